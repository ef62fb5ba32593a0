import test from "ava";
import { PATH_REJECTIONS, isPathRejection, normalizePath } from "../../../proxy/filters/path-normalize.js";

const normal: [string, string][] = [
  ["/", "/"],
  ["/api/v1/users", "/api/v1/users"],
  ["/api/", "/api/"],
  // dot segments (RFC 3986 5.2.4), never above the root
  ["/a/../admin", "/admin"],
  ["/a/./b", "/a/b"],
  ["/a/b/..", "/a/"],
  ["/a/.", "/a/"],
  ["/..", "/"],
  ["/../../admin", "/admin"],
  ["/a/b/../../c", "/c"],
  ["/a/..b/c", "/a/..b/c"],
  ["/a/.b", "/a/.b"],
  ["/a/b..", "/a/b.."],
  // merged slashes
  ["//admin", "/admin"],
  ["/a//b///c", "/a/b/c"],
  ["/a//", "/a/"],
  ["//", "/"],
  // backslash is a slash (BASE)
  ["/a\\b", "/a/b"],
  ["/\\admin", "/admin"],
  ["/a\\..\\admin", "/admin"],
  // unreserved characters decoded once; other escapes kept with upper-case hex
  ["/%61dmin", "/admin"],
  ["/%2e%2e/admin", "/admin"],
  ["/a/%2E%2E/admin", "/admin"],
  ["/a/.%2e/admin", "/admin"],
  ["/%7euser/%5F%2D", "/~user/_-"],
  ["/a%20b", "/a%20b"],
  ["/a%3fb", "/a%3Fb"],
  ["/%252e%252e/admin", "/%252e%252e/admin"],
  ["/caf%c3%a9", "/caf%C3%A9"],
];

for (const [raw, want] of normal) {
  test(`normalises ${JSON.stringify(raw)} to ${JSON.stringify(want)}`, (t) => {
    t.is(normalizePath(raw), want);
  });
}

test("an already normal path is returned as the same string", (t) => {
  const p = "/api/v1/users/42";
  t.is(normalizePath(p), p);
});

const refused: [string, keyof typeof PATH_REJECTIONS][] = [
  ["/admin%2Fsecret", "encodedSlash"],
  ["/admin%2fsecret", "encodedSlash"],
  ["/a%5c..%5cadmin", "encodedSlash"],
  ["/a%5C", "encodedSlash"],
  ["/a%00b", "nul"],
  ["/a%zz", "badEscape"],
  ["/a%2", "badEscape"],
  ["/a%", "badEscape"],
  ["/a b", "control"],
  ["/a\nb", "control"],
  ["/a\x00", "control"],
  ["/a\x7f", "control"],
  ["admin", "notOrigin"],
  ["", "notOrigin"],
  ["*", "notOrigin"],
];

for (const [raw, why] of refused) {
  test(`refuses ${JSON.stringify(raw)} (${why})`, (t) => {
    const r = normalizePath(raw);
    t.true(isPathRejection(r));
    t.is(r, PATH_REJECTIONS[why]);
  });
}

test("rejections carry a stable code and a reason without the path", (t) => {
  const r = normalizePath("/secret-token-abc%2Fx");
  if (!isPathRejection(r)) return t.fail("expected a rejection");
  t.is(r.code, "path_encoded_slash");
  t.false(r.reason.includes("secret-token-abc"));
});

test("normalisation is idempotent", (t) => {
  for (const [raw] of normal) {
    const once = normalizePath(raw);
    if (isPathRejection(once)) return t.fail(raw);
    t.is(normalizePath(once), once, raw);
  }
});
