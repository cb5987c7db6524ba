import type { IConstruct } from 'constructs';

/**
 * Runs `check` when the app is validated (at synth, after every construct is added), so that it sees the final
 * state, e.g. the pools' total `maxNodes`; what it throws becomes `scope`'s validation error.
 */
export function validateAtSynth(scope: IConstruct, check: () => void): void {
  scope.node.addValidation({
    validate: () => {
      try {
        check();
        return [];
      } catch (e) {
        return [(e as Error).message];
      }
    },
  });
}
