// Kubernetes resource quantities (k8s.io/apimachinery resource.Quantity), parsed so config can
// reject what the API server would, and compare a request with its limit:
//   quantity ::= sign? number suffix?     number ::= digits | digits. | digits.digits | .digits
//   suffix   ::= Ki Mi Gi Ti Pi Ei  |  m k M G T P E  |  (e|E) sign? digits
// So `128k`, `1.5Gi`, `.5`, `1e3` are quantities; `128K`, `1.5 Gi`, `0x10` are not.

const QUANTITY = /^([+-]?)(\d+\.?\d*|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([eE][+-]?\d+)|(m|k|M|G|T|P|E))?$/;

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** The quantity's value in base units (cores, bytes); undefined when the text is not a quantity. */
export function parseQuantity(text: string): number | undefined {
    const m = QUANTITY.exec(text);
    if (!m) return undefined;
    const [, sign, digits, binary, exponent, decimal] = m;
    const scale = binary ? BINARY[binary]! : exponent ? 10 ** Number(exponent.slice(1)) : decimal ? DECIMAL[decimal]! : 1;
    const value = Number(digits) * scale;
    return sign === "-" ? -value : value;
}
