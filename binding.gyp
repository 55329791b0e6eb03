{
  # The addon's generic code builds with baseline flags. Each ISA's kernels are a static library with
  # that ISA's flags only, called after a run-time CPUID check (native/src/cpu.cc), so one build runs on
  # any x86-64; arm64 builds the scalar path alone. Never -march=native.
  "variables": {
    "zj_opt": ["-O3", "-fno-math-errno", "-fno-trapping-math", "-std=c++17", "-fPIC", "-Wall", "-Wno-unused-function"]
  },
  "targets": [
    {
      "target_name": "zj_avx512",
      "type": "static_library",
      "conditions": [["target_arch=='x64'", {
        "sources": ["<!@(node -e \"const fs=require('fs');const d='native/src/avx512';console.log(fs.existsSync(d)?fs.readdirSync(d).filter(f=>f.endsWith('.cc')).map(f=>d+'/'+f).join(' '):'')\")"],
        "cflags_cc": ["<@(zj_opt)", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512bf16", "-mfma", "-mf16c", "-mavx2"]
      }]],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"]
    },
    {
      # AMX tiles (Sapphire Rapids and later), its own library so no other file gets the AMX flags.
      "target_name": "zj_amx",
      "type": "static_library",
      "conditions": [["target_arch=='x64'", {
        "sources": ["<!@(node -e \"const fs=require('fs');const d='native/src/amx';console.log(fs.existsSync(d)?fs.readdirSync(d).filter(f=>f.endsWith('.cc')).map(f=>d+'/'+f).join(' '):'')\")"],
        "cflags_cc": ["<@(zj_opt)", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512bf16", "-mfma", "-mavx2", "-mamx-tile", "-mamx-bf16", "-mamx-int8"]
      }]],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"]
    },
    {
      "target_name": "zj_avx2",
      "type": "static_library",
      "conditions": [["target_arch=='x64'", {
        "sources": ["<!@(node -e \"const fs=require('fs');const d='native/src/avx2';console.log(fs.existsSync(d)?fs.readdirSync(d).filter(f=>f.endsWith('.cc')).map(f=>d+'/'+f).join(' '):'')\")"],
        "cflags_cc": ["<@(zj_opt)", "-mavx2", "-mfma", "-mf16c"]
      }]],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"]
    },
    {
      "target_name": "zhongjing",
      "dependencies": ["zj_avx512", "zj_amx", "zj_avx2"],
      "sources": ["<!@(node -e \"const fs=require('fs');const d='native/src';console.log(fs.readdirSync(d).filter(f=>f.endsWith('.cc')).map(f=>d+'/'+f).join(' '))\")"],
      "include_dirs": ["native/include", "native/src"],
      "cflags_cc": ["<@(zj_opt)", "-pthread"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "ldflags": ["-pthread"]
    }
  ]
}
