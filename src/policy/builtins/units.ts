// units.parse and units.parse_bytes: a decimal amount with an SI or binary suffix, computed exactly as OPA does.
import type { JsBuiltin } from '../builtins.js';
import { BuiltinError, guarded, jsonText, stringOperand } from './host-builtin.js';

/** An exact rational: numerator over a positive denominator. */
interface Ratio {
  readonly num: bigint;
  readonly den: bigint;
}

const MAX_EXPONENT_DIGITS = 6;

/**
 * Splits "10.5Gi" into "10.5" and "Gi" as OPA does: the amount runs over digits, '.', signs and an
 * exponent marker followed by a digit or sign; an exponent of more than six digits is an error.
 */
function splitAmount(text: string): { amount: string; unit: string } {
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const digitOrDot = (c >= '0' && c <= '9') || c === '.';
    if (!digitOrDot && c !== 'e' && c !== 'E' && c !== '+' && c !== '-') {
      return { amount: text.slice(0, i), unit: text.slice(i) };
    }
    if (c === 'e' || c === 'E') {
      const next = text[i + 1];
      if (next === undefined || !((next >= '0' && next <= '9') || next === '+' || next === '-')) {
        return { amount: text.slice(0, i), unit: text.slice(i) };
      }
      if (next === '+' || next === '-') i++;
      let end = i + 1;
      while (end < text.length && text[end]! >= '0' && text[end]! <= '9') end++;
      if (end - (i + 1) > MAX_EXPONENT_DIGITS) throw new BuiltinError('exponent too large');
    }
  }
  return { amount: text, unit: '' };
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** A decimal string (optional sign, fraction, exponent) as an exact ratio; undefined when malformed. */
function parseDecimal(text: string): Ratio | undefined {
  const match = DECIMAL.exec(text);
  if (match === null) return undefined;
  const whole = match[2] ?? '';
  const fraction = match[3] ?? '';
  if (whole === '' && fraction === '') return undefined;
  let num = BigInt(`${whole}${fraction}` || '0');
  let den = 10n ** BigInt(fraction.length);
  const exponent = Number(match[4] ?? '0');
  if (exponent >= 0) num *= 10n ** BigInt(exponent);
  else den *= 10n ** BigInt(-exponent);
  return { num: match[1] === '-' ? -num : num, den };
}

/** The double 0.001 as the exact binary fraction Go's big.Rat.SetFloat64 takes. */
function exactDouble(value: number): Ratio {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn) - 1075;
  const mantissa = (bits & ((1n << 52n) - 1n)) | (1n << 52n);
  return exponent >= 0
    ? { num: mantissa << BigInt(exponent), den: 1n }
    : { num: mantissa, den: 1n << BigInt(-exponent) };
}

const K = 1000n;
const KI = 1024n;
const SI: Record<string, bigint> = {
  k: K,
  m: K ** 2n,
  g: K ** 3n,
  t: K ** 4n,
  p: K ** 5n,
  e: K ** 6n,
};
const BINARY: Record<string, bigint> = {
  ki: KI,
  mi: KI ** 2n,
  gi: KI ** 3n,
  ti: KI ** 4n,
  pi: KI ** 5n,
  ei: KI ** 6n,
};

/** A ratio as OPA prints it: an integer, else rounded to ten decimals (half away from zero, as big.Rat does). */
function ratioText({ num, den }: Ratio): string {
  if (num % den === 0n) return (num / den).toString();
  const negative = num < 0n;
  const abs = negative ? -num : num;
  const scaled = abs * 10n ** 10n;
  let q = scaled / den;
  if ((scaled % den) * 2n >= den) q += 1n;
  const digits = q.toString().padStart(11, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -10)}.${digits.slice(-10)}`;
}

function unitsParse(value: unknown): ArrayBuffer {
  const text = stringOperand(value, 1).replaceAll('"', '');
  if (text.includes(' ')) throw new BuiltinError('spaces not allowed in resource strings');
  const { amount, unit: rawUnit } = splitAmount(text);
  if (amount === '') throw new BuiltinError('no amount provided');
  // Only the letters after the first are case-folded, so m (milli) and M (mega) stay apart.
  const unit = rawUnit.length > 1 ? rawUnit[0] + rawUnit.slice(1).toLowerCase() : rawUnit;
  let factor: Ratio;
  if (unit === 'm') factor = exactDouble(0.001);
  else if (unit === '') factor = { num: 1n, den: 1n };
  else if (unit === 'M') factor = { num: SI.m!, den: 1n };
  else if (unit !== 'm' && SI[unit.toLowerCase()] !== undefined && unit.length === 1) {
    factor = { num: SI[unit.toLowerCase()]!, den: 1n };
  } else if (unit.length === 2 && BINARY[unit.toLowerCase()] !== undefined) {
    factor = { num: BINARY[unit.toLowerCase()]!, den: 1n };
  } else {
    throw new BuiltinError(`unit ${unit} not recognized`);
  }
  const parsed = parseDecimal(amount);
  if (parsed === undefined) throw new BuiltinError('could not parse amount to a number');
  return jsonText(ratioText({ num: parsed.num * factor.num, den: parsed.den * factor.den }));
}

function unitsParseBytes(value: unknown): ArrayBuffer {
  const text = stringOperand(value, 1).toLowerCase().replaceAll('"', '');
  if (text.includes(' ')) throw new BuiltinError('spaces not allowed in resource strings');
  const { amount, unit } = splitAmount(text);
  if (amount === '') throw new BuiltinError('no byte amount provided');
  let factor: bigint | undefined;
  if (unit === '') factor = 1n;
  else if (/^[kmgtpe]b?$/.test(unit)) factor = SI[unit[0]!];
  else if (/^[kmgtpe]ib?$/.test(unit)) factor = BINARY[unit.slice(0, 2)];
  if (factor === undefined) throw new BuiltinError(`byte unit ${unit} not recognized`);
  const parsed = parseDecimal(amount);
  if (parsed === undefined) throw new BuiltinError('could not parse byte amount to a number');
  // Truncated toward zero, as big.Float.Int does.
  return jsonText(((parsed.num * factor) / parsed.den).toString());
}

/** The units builtins. */
export function createUnitsBuiltins(): Record<string, JsBuiltin> {
  return {
    'units.parse': guarded(unitsParse),
    'units.parse_bytes': guarded(unitsParseBytes),
  };
}
