import type { CloudFormationRule } from '../rule';

const KEPT = new Set(['Retain', 'RetainExceptOnCreate', 'Snapshot']);

/** A database kept when its stack goes keeps the secret that unlocks it. */
export const secretOutlivesDatabase: CloudFormationRule = {
  id: 'MLS-AWS-SECRET-RETAINED',
  level: 'error',
  target: 'cloudformation',
  title: "A retained database's credentials secret is retained too",
  description:
    'When a stack is deleted, a database with DeletionPolicy Retain (or Snapshot) survives; if the Secrets Manager secret attached to it is deleted, the surviving data can only be reached by resetting the master password.',
  fix: 'Give the secret the DeletionPolicy of the database it unlocks (mlstack retains both).',
  check: ({ template }) => {
    const resources = template.Resources ?? {};
    const ref = (v: unknown) => (v as { Ref?: string } | undefined)?.Ref;
    return Object.values(resources)
      .filter((r) => r.Type === 'AWS::SecretsManager::SecretTargetAttachment')
      .flatMap((a) => {
        const secret = ref(a.Properties?.SecretId);
        const target = ref(a.Properties?.TargetId);
        if (!secret || !target) return [];
        const db = resources[target] as { DeletionPolicy?: string } | undefined;
        const s = resources[secret] as { DeletionPolicy?: string } | undefined;
        if (!db || !s || !KEPT.has(db.DeletionPolicy ?? 'Delete') || KEPT.has(s.DeletionPolicy ?? 'Delete'))
          return [];
        return [
          {
            resource: secret,
            message: `secret ${secret} is deleted with the stack, while database ${target} it unlocks is kept (${db.DeletionPolicy})`,
          },
        ];
      });
  },
};
