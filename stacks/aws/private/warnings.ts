import { Annotations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Records a synth warning on `scope` as aws-cdk-lib does (printed by `cdk synth` and `mlstack synth`,
 * acknowledgeable with the id `mlstack:warning`).
 */
export function addWarning(scope: IConstruct, message: string): void {
  Annotations.of(scope).addWarningV2('mlstack:warning', message);
}
