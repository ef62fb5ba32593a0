/** FNV-1a (32-bit): the hash the value scan and the SQL keyword table compute inline in their own loops. */
export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 16777619;
