// The part of @lhncbc/ucum-lhc (which ships no type declarations) the node uses.
declare module '@lhncbc/ucum-lhc' {
  interface UcumConversion {
    readonly status: 'succeeded' | 'failed' | 'error';
    readonly toVal: number | null;
    readonly msg: readonly string[];
  }
  interface UcumLhcUtils {
    convertUnitTo(
      fromUnitCode: string,
      fromVal: number,
      toUnitCode: string,
      options?: { readonly suggest?: boolean; readonly molecularWeight?: number },
    ): UcumConversion;
  }
  const ucum: { readonly UcumLhcUtils: { getInstance(): UcumLhcUtils } };
  export default ucum;
}
