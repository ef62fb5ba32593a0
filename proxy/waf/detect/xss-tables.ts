/**
 * Word lists for the XSS detector: which elements, attributes and URL schemes
 * let injected markup run script. Names are lower case and without any
 * namespace prefix (the detector strips "svg:", "x:", "xlink:" first).
 */

/** Elements that run script, load active content or change how the page resolves URLs, whatever their attributes. */
export const DANGEROUS_TAGS: ReadonlySet<string> = new Set([
  "script",
  "style", // CSS injection and legacy expression()/binding
  "iframe",
  "frame",
  "frameset",
  "object",
  "embed",
  "applet",
  "base", // rebases every relative script URL of the page
  "xml", // IE data islands
  "xss", // the canonical probe element of XSS scanners
  "import", // IE <?import>/<import implementation=…>
  "isindex",
  "layer", // Netscape 4 src= loaded HTML
  "ilayer",
  "portal",
  "handler", // SVG Tiny 1.2 script handlers
  "listener",
  "vmlframe",
]);

/** Elements whose content browsers read as text up to their end tag (and markup sanitizers often do not). */
export const RAW_TEXT_TAGS: readonly string[] = ["title", "textarea", "xmp", "noscript", "noembed", "noframes"];

/** SVG animation elements: any attribute may carry a URL they write into href. */
export const ANIMATION_TAGS: ReadonlySet<string> = new Set([
  "animate",
  "set",
  "animatemotion",
  "animatetransform",
  "animatecolor",
]);

/**
 * Known DOM event names (the handler attribute is "on" + name). Used where the
 * tag itself was not written by the input (an attribute injection) and an unknown
 * "on…" word is more likely prose than a handler.
 */
export const EVENT_NAMES: ReadonlySet<string> = new Set([
  "abort", "activate", "afterprint", "afterscriptexecute", "afterupdate",
  "animationcancel", "animationend", "animationiteration", "animationstart",
  "auxclick", "beforeactivate", "beforecopy", "beforecut", "beforedeactivate",
  "beforeeditfocus", "beforeinput", "beforematch", "beforepaste", "beforeprint",
  "beforescriptexecute", "beforetoggle", "beforeunload", "beforeupdate", "begin",
  "blur", "bounce", "cancel", "canplay", "canplaythrough", "cellchange", "change",
  "click", "close", "command", "contentvisibilityautostatechange", "contextlost",
  "contextmenu", "contextrestored", "controlselect", "copy", "cuechange", "cut",
  "dataavailable", "datasetchanged", "datasetcomplete", "dblclick", "deactivate",
  "drag", "dragdrop", "dragend", "dragenter", "dragexit", "dragleave", "dragover",
  "dragstart", "drop", "durationchange", "emptied", "end", "ended", "error",
  "errorupdate", "filterchange", "finish", "focus", "focusin", "focusout",
  "formchange", "formdata", "forminput", "fullscreenchange", "fullscreenerror",
  "gotpointercapture", "hashchange", "help", "input", "invalid", "keydown",
  "keypress", "keyup", "languagechange", "layoutcomplete", "load", "loadeddata",
  "loadedmetadata", "loadend", "loadstart", "losecapture", "lostpointercapture",
  "message", "messageerror", "mousedown", "mouseenter", "mouseleave",
  "mousemove", "mouseout", "mouseover", "mouseup", "mousewheel", "move",
  "moveend", "movestart", "offline", "online", "pagehide", "pagereveal",
  "pageshow", "pageswap", "paste", "pause", "play", "playing", "pointercancel",
  "pointerdown", "pointerenter", "pointerleave", "pointermove", "pointerout",
  "pointerover", "pointerrawupdate", "pointerup", "popstate", "progress",
  "propertychange", "ratechange", "readystatechange", "rejectionhandled",
  "repeat", "reset", "resize", "resizeend", "resizestart", "rowenter", "rowexit",
  "rowsdelete", "rowsinserted", "scroll", "scrollend", "scrollsnapchange",
  "scrollsnapchanging", "search", "securitypolicyviolation", "seeked", "seeking",
  "select", "selectionchange", "selectstart", "show", "slotchange", "stalled",
  "start", "stop", "storage", "submit", "suspend", "timeout", "timeupdate",
  "toggle", "touchcancel", "touchend", "touchmove", "touchstart",
  "transitioncancel", "transitionend", "transitionrun", "transitionstart",
  "unhandledrejection", "unload", "volumechange", "waiting",
  "webkitanimationend", "webkitanimationiteration", "webkitanimationstart",
  "webkitmouseforcechanged", "webkitmouseforcedown", "webkitmouseforceup",
  "webkitmouseforcewillbegin", "webkittransitionend", "wheel", "zoom",
]);

/** Attributes whose value the browser fetches or navigates to. */
export const URL_ATTRS: ReadonlySet<string> = new Set([
  "href",
  "src",
  "action",
  "formaction",
  "data",
  "background",
  "poster",
  "dynsrc",
  "lowsrc",
  "datasrc",
  "codebase",
  "code",
  "archive",
  "classid",
  "cite",
  "longdesc",
  "usemap",
  "profile",
  "manifest",
  "icon",
  "ping",
  "base", // xml:base
  "folder", // IE "web folder" anchors
]);

/** URL schemes that run script when navigated to. */
export const SCRIPT_SCHEMES: ReadonlySet<string> = new Set(["javascript", "vbscript", "livescript", "mocha", "jscript"]);

/** Fragments of a data: media type that make the payload a document or a script. */
export const ACTIVE_MEDIA_MARKERS: readonly string[] = ["html", "xml", "svg", "script", "x-scriptlet", "shockwave"];

/** Meta http-equiv values that navigate or set state. */
export const META_HTTP_EQUIV: ReadonlySet<string> = new Set(["refresh", "set-cookie", "link"]);

/** Processing-instruction targets that make a document load and run code (<?xml-stylesheet …?>, IE's <?import …>). */
export const ACTIVE_PI_TARGETS: readonly string[] = ["xml-stylesheet", "import"];
