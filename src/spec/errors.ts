import { parseImageReference } from '../k8s/image';

/**
 * An invalid construct prop. Thrown at synth time, in the constructor of the construct
 * that received the prop, so that the stack trace (shown with `--verbose`) points at the user's code.
 *
 * The message always names the prop path, the value received and how to fix it:
 * `GpuCluster 'Gpus': 'gpuPools[0].minNodes' (4) must not exceed 'maxNodes' (2). Set minNodes <= maxNodes.`
 */
export class MlStackValidationError extends Error {
  /** The path of the offending prop, e.g. `gpuPools[0].gpu.type`. */
  public readonly prop: string;
  /** The value that was received. */
  public readonly value: unknown;

  constructor(where: string, prop: string, value: unknown, problem: string, fix: string) {
    super(`${where}: '${prop}' (${formatValue(value)}) ${problem}. ${fix}`);
    this.name = 'MlStackValidationError';
    this.prop = prop;
    this.value = value;
  }
}

/** Renders a prop value for an error message: strings quoted, objects as compact JSON. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'undefined';
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const s = String(value);
    if (s !== '[object Object]') return s;
  }
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/**
 * A small helper bound to one construct, so validation code reads as a list of rules.
 * @internal
 */
export class Validator {
  constructor(private readonly where: string) {}

  /** Throws a {@link MlStackValidationError}. */
  fail(prop: string, value: unknown, problem: string, fix: string): never {
    throw new MlStackValidationError(this.where, prop, value, problem, fix);
  }

  /** An integer within [min, max]. */
  integer(prop: string, value: number, min: number, max: number = Number.MAX_SAFE_INTEGER): void {
    if (!Number.isInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
      this.fail(prop, value, `must be an integer ${range}`, `Set '${prop}' to an integer ${range}.`);
    }
  }

  /**
   * A container image reference (`[registry/]repository[:tag][@sha256:…]`): a tag, a digest or both. Deploy-time
   * values (`${…}`) pass as they are.
   */
  image(prop: string, value: unknown, example: string): void {
    if (typeof value === 'string' && value.includes('${')) return;
    const parsed = typeof value === 'string' ? parseImageReference(value) : { problem: 'is not a string' };
    if ('problem' in parsed) {
      this.fail(
        prop,
        value,
        `is not an image reference: it ${parsed.problem}`,
        `Use a reference such as '${example}' (pin it with '@sha256:<digest>').`,
      );
    }
  }

  /**
   * A reason given for an exception to a safe default (local state, public networks): a sentence, as
   * acknowledgements need (it becomes one). `why` says what it must explain.
   */
  reason(prop: string, value: unknown, why: string, fix: string): void {
    if (typeof value !== 'string' || value.trim().length < 20) {
      this.fail(prop, value, `does not say why ${why}`, fix);
    }
  }

  /** A DNS-1123 label (Kubernetes object names, node pool names). */
  dnsLabel(prop: string, value: string, maxLength = 63): void {
    if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(value) || value.length > maxLength) {
      this.fail(
        prop,
        value,
        `is not a valid name`,
        `Use lowercase letters, digits and '-', starting with a letter and ending with a letter or digit, at most ${maxLength} characters.`,
      );
    }
  }
}
