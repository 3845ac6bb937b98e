/** Kept in step with cli/package.json by hand: reading package.json at run time would cost start-up. */
export const KM_VERSION = '0.1.0';
