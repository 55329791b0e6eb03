// deid.ts — de-identification of Chinese personal data with typed placeholders: mobile numbers (1[3-9]x, +86),
// landlines with area code, 18-digit resident ID numbers verified by their ISO 7064 MOD 11-2 check character
// (GB 11643-1999), emails, record/ID-like numbers after a label or as long digit runs, and names only where a
// label marks them (姓名：…) or the caller lists them. It does not detect unmarked names or addresses.

export const PLACEHOLDER = {
  email: '[邮箱]',
  idCard: '[身份证号]',
  mobile: '[手机号]',
  landline: '[电话]',
  record: '[编号]',
  name: '[姓名]',
} as const;
export type PiiType = keyof typeof PLACEHOLDER;

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** True when an 18-character resident ID number has a plausible birth date and a correct check character. */
export function isValidResidentId(id: string): boolean {
  if (!/^\d{17}[\dXx]$/.test(id)) return false;
  const y = Number(id.slice(6, 10)), m = Number(id.slice(10, 12)), d = Number(id.slice(12, 14));
  if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1 || d > 31) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11] === id[17]!.toUpperCase();
}

// Boundaries: not glued to other ASCII letters/digits (Chinese characters around a number are fine).
const B = '(?<![0-9A-Za-z])';
const E = '(?![0-9A-Za-z])';
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const ID18 = new RegExp(`${B}\\d{17}[\\dXx]${E}`, 'g');
const MOBILE = new RegExp(`${B}(?:\\+?86[ -]?)?1[3-9]\\d(?:[ -]?\\d{4}){2}${E}`, 'g');
const LANDLINE = new RegExp(`(?:${B}0\\d{2,3}[ -]|[(（]0\\d{2,3}[)）] ?)\\d{7,8}(?:[-转]\\d{1,5})?${E}`, 'g');
const RECORD_LABEL = /((?:病历|住院|门诊|病案|档案|医保|社保|就诊|床|卡|订单|编|证件|护照)号(?:码)?|ID|No\.?)\s*[:：#]?\s*([A-Za-z0-9-]{5,})/gi;
const LONG_DIGITS = new RegExp(`${B}\\d{12,}${E}`, 'g');
const NAME_LABEL = /((?:患者|病人|家属|联系人)?姓名|联系人|家属|签名)\s*[:：]\s*([\u4e00-\u9fa5·]{2,5})/g;

export interface DeidOptions {
  /** names to replace wherever they occur (e.g. from a source's patient-name column) */
  names?: string[];
}

export type DeidCounts = Record<PiiType, number>;

export function emptyCounts(): DeidCounts {
  return { email: 0, idCard: 0, mobile: 0, landline: 0, record: 0, name: 0 };
}

/** Replaces personal data in `s`; adds what it replaced to `counts`. */
export function deidentify(s: string, counts: DeidCounts = emptyCounts(), opts: DeidOptions = {}): string {
  let t = s.replace(EMAIL, () => { counts.email++; return PLACEHOLDER.email; });
  t = t.replace(ID18, (m) => {
    if (!isValidResidentId(m)) return m; // left for the long-number rule: it is not a resident ID
    counts.idCard++;
    return PLACEHOLDER.idCard;
  });
  t = t.replace(MOBILE, () => { counts.mobile++; return PLACEHOLDER.mobile; });
  t = t.replace(LANDLINE, () => { counts.landline++; return PLACEHOLDER.landline; });
  t = t.replace(RECORD_LABEL, (_m, label: string, v: string) => {
    if (!/\d/.test(v)) return _m;
    counts.record++;
    return `${label}${_m.slice(label.length, _m.length - v.length)}${PLACEHOLDER.record}`;
  });
  t = t.replace(LONG_DIGITS, () => { counts.record++; return PLACEHOLDER.record; });
  t = t.replace(NAME_LABEL, (m, label: string, name: string) => {
    counts.name++;
    return `${m.slice(0, m.length - name.length)}${PLACEHOLDER.name}`.replace(label, label);
  });
  for (const n of opts.names ?? []) {
    if (!n) continue;
    const parts = t.split(n);
    if (parts.length > 1) { counts.name += parts.length - 1; t = parts.join(PLACEHOLDER.name); }
  }
  return t;
}
