// lf-templates.ts — facts about LLaMA-Factory v0.9.3's named chat templates (src/llamafactory/data/template.py at
// tag v0.9.3 of hiyouga/LLaMA-Factory: the `name=` of every register_template call), and the choice of one for a
// model's own Jinja chat template (tokenizer.template `model`) by the markers that tell the families apart.
// Only names and marker strings are recorded; no template text is copied. Nothing is checked against a running engine.
import { LF_RELEASE } from './lf-keys.js';

export const LF_TEMPLATE_SOURCE = 'hiyouga/LLaMA-Factory@v0.9.3 src/llamafactory/data/template.py (register_template names)';

/** Every template name v0.9.3 registers (its `template:` key accepts these and no other: "Template … does not exist"). */
export const LF_TEMPLATE_NAMES: readonly string[] = `alpaca aquila atom baichuan baichuan2 bailing belle bluelm breeze chatglm2
  chatglm3 chatml chatml_de codegeex2 codegeex4 cohere cpm cpm3 cpm4 dbrx deepseek deepseek3 deepseekr1 deepseekcoder
  default empty exaone falcon fewshot gemma gemma3 glm4 glmz1 granite3 granite3_vision index hunyuan intern intern2
  intern_vl kimi_vl llama2 llama2_zh llama3 llama4 mllama moonlight llava llava_next llava_next_llama3
  llava_next_mistral llava_next_qwen llava_next_yi llava_next_video llava_next_video_mistral llava_next_video_yi marco
  mimo mimo_vl minicpm_v minicpm_o ministral mistral mistral_small olmo openchat openchat-3.6 opencoder orion paligemma
  paligemma_chat phi phi_small phi4 pixtral qwen qwen3 qwen2_audio qwen2_omni qwen2_vl sailor seed_coder skywork_o1
  smollm smollm2 solar starchat telechat telechat2 vicuna video_llava xuanyuan xverse yayi yi yi_vl yuan zephyr ziya`
  .split(/\s+/);

/**
 * The families we tell apart, most specific first: each entry's markers must all occur in the model's Jinja template.
 * What the v0.9.3 template of that name writes (read from template.py):
 * - qwen3: ChatML turns, no default system, ReasoningTemplate (<think> … </think>), stop <|im_end|>
 * - qwen: ChatML turns, default system "You are Qwen, created by Alibaba Cloud. …" (Qwen2 / Qwen2.5), tool calls in
 *   <tool_call>, stop <|im_end|>, replace_eos (the EOS becomes <|im_end|>)
 * - chatml: ChatML turns, no default system, stop <|im_end|> and <|im_start|>
 * - llama3: <|start_header_id|>role<|end_header_id|>\n\n … <|eot_id|>, BOS prefix
 * - llama2: <s>[INST] <<SYS>>…<</SYS>> … [/INST]
 */
const FAMILIES: readonly { name: string; markers: readonly string[]; family: string }[] = [
  { name: 'qwen3', markers: ['<|im_start|>', '<think>'], family: 'Qwen3 (ChatML with <think> reasoning)' },
  { name: 'qwen', markers: ['<|im_start|>', 'You are Qwen, created by Alibaba Cloud'], family: 'Qwen2 / Qwen2.5 (ChatML with the Qwen system line)' },
  { name: 'chatml', markers: ['<|im_start|>', '<|im_end|>'], family: 'ChatML' },
  { name: 'llama3', markers: ['<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'], family: 'Llama 3' },
  { name: 'llama2', markers: ['[INST]', '[/INST]', '<<SYS>>'], family: 'Llama 2' },
];

export interface LfTemplateChoice { name: string; family: string; why: string }

/** The v0.9.3 template for a model's own chat template, or null when none of the families' markers all match. */
export function lfTemplateFor(chatTemplate: string): LfTemplateChoice | null {
  for (const f of FAMILIES)
    if (f.markers.every((m) => chatTemplate.includes(m)))
      return { name: f.name, family: f.family, why: `its chat template has ${f.markers.map((m) => JSON.stringify(m)).join(' and ')}` };
  return null;
}

/**
 * The `template:` every stage YAML carries for tokenizer.template `model`: scaleout.template when set (checked against
 * the v0.9.3 names), else the family's. An unknown template is an error naming the model's file and what to set.
 */
export function chooseLfTemplate(chatTemplate: string | null, source: string, explicit: string | null): LfTemplateChoice {
  if (explicit !== null) {
    if (!LF_TEMPLATE_NAMES.includes(explicit))
      throw new Error(`[export recipe] scaleout.template: '${explicit}' is not a LLaMA-Factory ${LF_RELEASE} template (${LF_TEMPLATE_SOURCE}); e.g. ${FAMILIES.map((f) => f.name).join(', ')}, default, empty`);
    return { name: explicit, family: 'set by scaleout.template', why: 'scaleout.template' };
  }
  if (chatTemplate === null)
    throw new Error(`[export recipe] tokenizer.template: 'model' but ${source} has no chat_template: set tokenizer.template to ziya or chatml, or scaleout.template to a LLaMA-Factory ${LF_RELEASE} template name`);
  const c = lfTemplateFor(chatTemplate);
  if (!c) {
    const head = chatTemplate.replace(/\s+/g, ' ').slice(0, 80);
    throw new Error(`[export recipe] tokenizer.template: 'model': the chat_template of ${source} ("${head}…") is none of the families the export maps ` +
      `to LLaMA-Factory ${LF_RELEASE} templates (${FAMILIES.map((f) => `${f.name}: ${f.family}`).join('; ')}): set scaleout.template to the engine's name for it ` +
      `(one of template.py's register_template names, e.g. default or empty), or tokenizer.template to ziya or chatml (our templates, written into the base's tokenizer_config.json)`);
  }
  return c;
}
