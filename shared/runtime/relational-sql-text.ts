/**
 * Reading SQL text the way PostgreSQL's lexer sees it, for the two things the relational path needs without a parser:
 * splitting a migration file into its statements (the Data API runs one statement per call), and finding the Data
 * API's named parameters (`:name`) outside string literals, quoted identifiers, dollar-quoted bodies, comments and
 * `::` casts (the local Data API endpoint turns them into PostgreSQL's `$1`).
 */

/** One piece of SQL text: code (where statements end and parameters live) or something the lexer skips over. */
interface Piece {
  kind: "code" | "skip";
  text: string;
}

/** Cuts SQL into code and skipped pieces (strings, quoted identifiers, dollar quotes, comments). */
function pieces(sql: string): Piece[] {
  const out: Piece[] = [];
  let code = "";
  let i = 0;
  const skip = (end: number) => {
    if (code) out.push({ kind: "code", text: code });
    code = "";
    out.push({ kind: "skip", text: sql.slice(i, end) });
    i = end;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      skip(end === -1 ? sql.length : end);
    } else if (c === "/" && next === "*") {
      // Block comments nest in PostgreSQL.
      let depth = 0;
      let j = i;
      while (j < sql.length) {
        if (sql[j] === "/" && sql[j + 1] === "*") {
          depth++;
          j += 2;
        } else if (sql[j] === "*" && sql[j + 1] === "/") {
          depth--;
          j += 2;
          if (depth === 0) break;
        } else j++;
      }
      skip(j);
    } else if (c === "'" || c === '"') {
      // '' (or "") inside doubles the quote; E'..' strings also take backslash escapes.
      const escapes = c === "'" && /[eE]/.test(sql[i - 1] ?? "") && !/[A-Za-z0-9_]/.test(sql[i - 2] ?? "");
      let j = i + 1;
      while (j < sql.length) {
        if (escapes && sql[j] === "\\") j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) {
          j++;
          break;
        } else j++;
      }
      skip(Math.min(j, sql.length));
    } else if (c === "$" && !/[A-Za-z0-9_]/.test(sql[i - 1] ?? "")) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        skip(end === -1 ? sql.length : end + tag[0].length);
      } else {
        code += c;
        i++;
      }
    } else {
      code += c;
      i++;
    }
  }
  if (code) out.push({ kind: "code", text: code });
  return out;
}

/**
 * The statements of a SQL text (a migration file), each without its closing `;`; empty ones (and ones holding only
 * comments) are left out.
 * @example
 * splitStatements("create table a (x int);\n-- two\ninsert into a values (1);") // ["create table a (x int)", "-- two\ninsert into a values (1)"]
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = "";
  let meaningful = false;
  for (const piece of pieces(sql)) {
    if (piece.kind === "skip") {
      current += piece.text;
      if (!piece.text.startsWith("--") && !piece.text.startsWith("/*")) meaningful = true;
      continue;
    }
    const parts = piece.text.split(";");
    parts.forEach((part, index) => {
      if (index > 0) {
        if (meaningful) statements.push(current.trim());
        current = "";
        meaningful = false;
      }
      current += part;
      if (part.trim()) meaningful = true;
    });
  }
  if (meaningful) statements.push(current.trim());
  return statements;
}

/**
 * Replaces the Data API's named parameters (`:name`) with what `replace` returns for each, outside literals,
 * quoted identifiers, comments and `::` casts. Names may be digits (`:0`, as kysely-data-api numbers them); `replace`
 * answers `undefined` to leave a match as it is (an array slice's `[1:2]`).
 * @example
 * replacePlaceholders("select :a::int, ':b'", (name) => "$1") // "select $1::int, ':b'"
 */
export function replacePlaceholders(sql: string, replace: (name: string) => string | undefined): string {
  return pieces(sql)
    .map((piece) =>
      piece.kind === "skip"
        ? piece.text
        : piece.text.replace(/(::?)([A-Za-z0-9_]+)/g, (match, colons: string, name: string) => (colons === "::" ? match : (replace(name) ?? match))),
    )
    .join("");
}

/** The first line of a statement, shortened (trace lines and error messages name statements by it). */
export function statementTitle(sql: string, max = 80): string {
  const line = sql.trim().split("\n").find((l) => l.trim() && !l.trim().startsWith("--"))?.trim() ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
