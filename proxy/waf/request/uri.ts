/**
 * The request target taken apart without decoding anything: path, query and
 * the last path segment. Only the first "?" splits; "#" has no meaning here,
 * so a payload after it stays in the query and the args the rules see.
 */
export interface UriParts {
  readonly path: string;
  /** Raw query without "?", or undefined when the target has no "?". */
  readonly query: string | undefined;
  /** Index in the URI where the query starts (after "?"), -1 when none. */
  readonly queryStart: number;
  readonly basename: string;
}

export function splitUri(uri: string): UriParts {
  const q = uri.indexOf("?");
  const pathEnd = q === -1 ? uri.length : q;
  let pathStart = 0;
  // Absolute form ("http://host/p?q"): the path starts after the authority.
  if (uri.charCodeAt(0) !== 47 /* / */) {
    const sep = uri.indexOf("://");
    if (sep > 0 && sep < pathEnd && isScheme(uri, sep)) {
      const slash = uri.indexOf("/", sep + 3);
      pathStart = slash === -1 || slash > pathEnd ? pathEnd : slash;
    }
  }
  const path = pathStart === 0 && pathEnd === uri.length ? uri : uri.slice(pathStart, pathEnd);
  const lastSlash = path.lastIndexOf("/");
  const basename = lastSlash === -1 ? path : path.slice(lastSlash + 1);
  return {
    path,
    query: q === -1 ? undefined : uri.slice(q + 1),
    queryStart: q === -1 ? -1 : q + 1,
    basename,
  };
}

/** scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) over uri[0, end). */
function isScheme(uri: string, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const c = uri.charCodeAt(i);
    const l = c | 0x20;
    const alpha = l >= 97 && l <= 122;
    if (i === 0 ? !alpha : !(alpha || (c >= 48 && c <= 57) || c === 0x2b || c === 0x2d || c === 0x2e)) return false;
  }
  return true;
}
