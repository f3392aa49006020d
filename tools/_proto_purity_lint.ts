// A `deno lint` plugin that tools/check_layers.ts runs over lib/proto: the protocol core never
// reaches the runtime, the clock, timers or randomness through a global (STYLE.md §1). It reports
// every reference to a forbidden global name (`Deno`, the timer functions, `performance`,
// `crypto`, `Date`, and `globalThis`/`self`/`window`, through which the others are reachable),
// values and types alike. A name the file declares itself (a parameter or variable called
// `crypto`, say) is the file's own, not the global: such files are left alone for that name.

/** Global names lib/proto must not use. */
export const FORBIDDEN_GLOBALS: readonly string[] = [
  "Deno",
  "setTimeout",
  "setInterval",
  "clearTimeout",
  "clearInterval",
  "setImmediate",
  "clearImmediate",
  "performance",
  "crypto",
  "Date",
  "globalThis",
  "self",
  "window",
];

const FORBIDDEN = new Set(FORBIDDEN_GLOBALS);

/** Node types whose direct Identifier children (other than a body) declare a name. */
const BINDERS = new Set([
  "VariableDeclarator",
  "FunctionDeclaration",
  "FunctionExpression",
  "ArrowFunctionExpression",
  "ClassDeclaration",
  "ClassExpression",
  "ImportSpecifier",
  "ImportDefaultSpecifier",
  "ImportNamespaceSpecifier",
  "CatchClause",
  "AssignmentPattern",
  "RestElement",
  "TSParameterProperty",
  "TSTypeAliasDeclaration",
  "TSInterfaceDeclaration",
  "TSEnumDeclaration",
  "TSModuleDeclaration",
]);

// deno-lint-ignore no-explicit-any
type AnyNode = any;

/** True when `node` (an Identifier) names a property rather than referring to a binding. */
function isPropertyName(node: AnyNode): boolean {
  const p = node.parent;
  if (p === undefined || p === null) return false;
  switch (p.type) {
    case "MemberExpression":
      return p.property === node && !p.computed;
    case "Property":
    case "MethodDefinition":
    case "PropertyDefinition":
    case "TSPropertySignature":
    case "TSMethodSignature":
      return p.key === node && !p.computed && !(p.shorthand === true);
    case "TSQualifiedName":
      return p.right === node;
    case "ImportSpecifier":
      return p.imported === node && p.local !== node;
    case "ExportSpecifier":
      return p.exported === node && p.local !== node;
    case "LabeledStatement":
    case "BreakStatement":
    case "ContinueStatement":
      return true;
    default:
      return false;
  }
}

/** True when `node` (an Identifier) is declared by its parent (a binding, not a use). */
function isDeclaration(node: AnyNode): boolean {
  const p = node.parent;
  if (p === undefined || p === null) return false;
  // Destructuring: `const { crypto } = deps`, `const [Date] = xs`.
  if (p.type === "Property" && p.parent?.type === "ObjectPattern") return p.value === node;
  if (p.type === "ArrayPattern") return true;
  if (!BINDERS.has(p.type)) return false;
  if (p.type === "AssignmentPattern") return p.left === node;
  if (p.type === "VariableDeclarator") return p.id === node;
  if (p.type === "CatchClause") return p.param === node;
  return p.body !== node && p.init !== node;
}

const plugin: Deno.lint.Plugin = {
  name: "proto-purity",
  rules: {
    "no-runtime-globals": {
      create(ctx) {
        const uses = new Map<string, AnyNode>();
        const declared = new Set<string>();
        return {
          Identifier(node: AnyNode) {
            if (!FORBIDDEN.has(node.name) || isPropertyName(node)) return;
            if (isDeclaration(node)) declared.add(node.name);
            // A shorthand property `{ Deno }` visits one node twice (as key and as value).
            else uses.set(`${node.range?.[0]}:${node.range?.[1]}`, node);
          },
          "Program:exit"() {
            for (const node of uses.values()) {
              if (declared.has(node.name)) continue;
              ctx.report({
                node,
                message: `lib/proto must not use the global "${node.name}" (inject it instead)`,
              });
            }
          },
        };
      },
    },
  },
};

export default plugin;
