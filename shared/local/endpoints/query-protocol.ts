/**
 * The AWS Query protocol (what the SNS API speaks): form-encoded parameters with dotted, 1-based paths
 * (`MessageAttributes.entry.1.Value.DataType`), answered with XML.
 */

/** A parsed parameter tree: leaves are strings, `a.b.c=v` becomes `{ a: { b: { c: "v" } } }`. */
export interface QueryObject {
  [key: string]: QueryValue;
}
export type QueryValue = string | QueryObject;

/**
 * The name-value pairs of a form-encoded body, as `URLSearchParams` reads them (application/x-www-form-urlencoded:
 * `&`-separated, split at the first `=`, `+` is a space, percent-escapes are UTF-8). `decodeURIComponent` does the
 * same for any well-formed escape in about a tenth of the time; a body it refuses (a lone `%`, bytes that are not
 * UTF-8, which `URLSearchParams` keeps or replaces) is read by `URLSearchParams` itself.
 */
export function formPairs(body: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  try {
    let start = 0;
    while (start <= body.length) {
      let end = body.indexOf("&", start);
      if (end < 0) end = body.length;
      if (end > start) {
        const equals = body.indexOf("=", start);
        const split = equals >= 0 && equals < end ? equals : end;
        pairs.push([decodeFormComponent(body.slice(start, split)), split < end ? decodeFormComponent(body.slice(split + 1, end)) : ""]);
      }
      start = end + 1;
    }
  } catch {
    return [...new URLSearchParams(body)];
  }
  return pairs;
}

function decodeFormComponent(text: string): string {
  const plus = text.includes("+");
  if (!plus && !text.includes("%")) return text;
  return decodeURIComponent(plus ? text.replaceAll("+", " ") : text);
}

/** Parses a form-encoded body into a parameter tree. */
export function parseQuery(body: string): QueryObject {
  const root: QueryObject = {};
  for (const [key, value] of formPairs(body)) {
    let node = root;
    let start = 0;
    for (let dot = key.indexOf("."); dot >= 0; dot = key.indexOf(".", start)) {
      const part = key.slice(start, dot);
      const next = node[part];
      if (typeof next === "object") node = next;
      else node = node[part] = {};
      start = dot + 1;
    }
    const last = key.slice(start);
    if (typeof node[last] !== "object") node[last] = value;
  }
  return root;
}

/** A string parameter, `undefined` when absent (or when the name holds a structure). */
export function queryString(node: QueryObject | undefined, key: string): string | undefined {
  const value = node?.[key];
  return typeof value === "string" ? value : undefined;
}

/** A nested structure parameter. */
export function queryObject(node: QueryObject | undefined, key: string): QueryObject | undefined {
  const value = node?.[key];
  return typeof value === "object" ? value : undefined;
}

/** The members of a list parameter (`Key.member.1`, `Key.member.2`, ...), in index order. */
export function queryList(node: QueryObject | undefined, key: string, memberName = "member"): QueryValue[] {
  const members = queryObject(queryObject(node, key), memberName);
  if (!members) return [];
  return Object.keys(members)
    .filter((index) => /^\d+$/.test(index))
    .sort((a, b) => Number(a) - Number(b))
    .map((index) => members[index]!);
}

/** The entries of a map parameter (`Key.entry.1.<keyName>`, `Key.entry.1.<valueName>`), as [key, value] pairs. */
export function queryMap(node: QueryObject | undefined, key: string, keyName: string, valueName: string): Array<[string, QueryValue | undefined]> {
  return queryList(node, key, "entry").flatMap((entry) => {
    if (typeof entry !== "object") return [];
    const name = queryString(entry, keyName);
    return name === undefined ? [] : [[name, entry[valueName]] as [string, QueryValue | undefined]];
  });
}

/** Escapes text for an XML element. */
export function escapeXml(text: string): string {
  return XML_SPECIAL.test(text) ? text.replace(XML_SPECIALS, (c) => XML_ENTITIES[c]!) : text;
}

const XML_SPECIAL = /[&<>"']/;
const XML_SPECIALS = /[&<>"']/g;
const XML_ENTITIES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

/** An XML fragment: text is escaped, arrays are concatenated, `undefined` elements are left out. */
export type XmlContent = string | number | boolean | XmlElement | readonly XmlContent[] | undefined;
export interface XmlElement {
  readonly xml: string;
}

/** `<tag>content</tag>`; nothing at all when `content` is `undefined`. */
export function element(tag: string, content: XmlContent): XmlElement {
  if (content === undefined) return { xml: "" };
  return { xml: `<${tag}>${render(content)}</${tag}>` };
}

/** Renders XML content (strings escaped). */
export function render(content: XmlContent): string {
  if (content === undefined) return "";
  if (typeof content === "string") return escapeXml(content);
  if (typeof content === "number" || typeof content === "boolean") return String(content);
  if (Array.isArray(content)) return content.map((item: XmlContent) => render(item)).join("");
  return (content as XmlElement).xml;
}

/**
 * A Query protocol success document:
 * `<ActionResponse xmlns=...><ActionResult>...</ActionResult><ResponseMetadata><RequestId/></ResponseMetadata></ActionResponse>`.
 */
export function queryResponse(namespace: string, action: string, result: XmlContent, requestId: string): string {
  return (
    `<?xml version="1.0"?>\n<${action}Response xmlns="${namespace}">` +
    render(element(`${action}Result`, result ?? "")) +
    render(element("ResponseMetadata", element("RequestId", requestId))) +
    `</${action}Response>\n`
  );
}

/** A Query protocol error document: `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`. */
export function queryErrorResponse(namespace: string, code: string, message: string, senderFault: boolean, requestId: string): string {
  return (
    `<?xml version="1.0"?>\n<ErrorResponse xmlns="${namespace}">` +
    render(element("Error", [element("Type", senderFault ? "Sender" : "Receiver"), element("Code", code), element("Message", message)])) +
    render(element("RequestId", requestId)) +
    `</ErrorResponse>\n`
  );
}
