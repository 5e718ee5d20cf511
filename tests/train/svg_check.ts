// A strict little XML reader for the SVG the charts write: it throws unless the text is
// well-formed (one root, every tag closed in order, attributes quoted and not repeated, no
// raw < or stray & in text or attribute values), and lists the elements with their
// attributes and text, so tests can check labels and geometry.

export interface SvgElement {
  name: string;
  attrs: Record<string, string>;
  /** The text directly inside the element (entities decoded). */
  text: string;
}

const NAME = /^[A-Za-z_][\w.:-]*$/;
const ENTITY = /&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;

function decode(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'").replace(/&amp;/g, "&");
}

/** Parses `svg` (throws with the offset on the first error) and returns its elements. */
export function parseSvg(svg: string): SvgElement[] {
  const elements: SvgElement[] = [];
  const open: SvgElement[] = [];
  let roots = 0;
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`not well-formed XML at ${i}: ${why}: ${svg.slice(i, i + 60)}`);
  };
  while (i < svg.length) {
    const lt = svg.indexOf("<", i);
    const text = svg.slice(i, lt < 0 ? svg.length : lt);
    if (ENTITY.test(text)) fail("a bare &");
    if (text.trim() !== "") {
      if (open.length === 0) fail("text outside the root");
      open[open.length - 1].text += decode(text);
    }
    if (lt < 0) break;
    i = lt;
    const gt = svg.indexOf(">", i);
    if (gt < 0) fail("an unclosed tag");
    const tag = svg.slice(i + 1, gt);
    if (tag.startsWith("/")) {
      const name = tag.slice(1).trim();
      const top = open.pop();
      if (!top || top.name !== name) fail(`</${name}> closes <${top?.name}>`);
    } else {
      const selfClosing = tag.endsWith("/");
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const m = body.match(/^([^\s]+)([\s\S]*)$/);
      if (!m || !NAME.test(m[1])) fail("a bad element name");
      const attrs: Record<string, string> = {};
      let rest = m![2];
      const attr = /^\s+([A-Za-z_][\w.:-]*)="([^"<]*)"/;
      while (rest.trim() !== "") {
        const a = rest.match(attr);
        if (!a) fail(`a bad attribute in <${m![1]}>`);
        if (a![1] in attrs) fail(`attribute ${a![1]} repeated`);
        if (ENTITY.test(a![2])) fail("a bare & in an attribute");
        attrs[a![1]] = decode(a![2]);
        rest = rest.slice(a![0].length);
      }
      const el = { name: m![1], attrs, text: "" };
      if (open.length === 0) roots++;
      if (roots > 1) fail("a second root element");
      elements.push(el);
      if (!selfClosing) open.push(el);
    }
    i = gt + 1;
  }
  if (open.length) throw new Error(`not well-formed XML: <${open[open.length - 1].name}> unclosed`);
  if (roots !== 1 || elements[0].name !== "svg") throw new Error("the root is not one <svg>");
  return elements;
}

/** The box of a <rect> (x, y, width, height as numbers). */
export function rectOf(e: SvgElement) {
  return {
    x: Number(e.attrs.x ?? 0),
    y: Number(e.attrs.y ?? 0),
    width: Number(e.attrs.width),
    height: Number(e.attrs.height),
  };
}
