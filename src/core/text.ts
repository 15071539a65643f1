/** True when the string has no lone UTF-16 surrogates (which cannot be stored or sent as UTF-8). */
export const isWellFormedText = (s: string): boolean => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
