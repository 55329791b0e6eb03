// bench-gemm.ts — `zhongjing bench gemm`. (Being written: see the native GEMM work.)
export async function benchGemm(_argv: string[]): Promise<number> {
  console.error('bench gemm: not implemented yet');
  return 1;
}
