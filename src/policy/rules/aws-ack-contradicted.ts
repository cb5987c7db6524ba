import type { CloudFormationRule, Violation } from '../rule';

type Statement = { Action?: string | string[]; Resource?: unknown };

/** Whether `value` (a policy Resource) refers to the bucket `logicalId`, its ARN or its objects. */
function refersTo(value: unknown, logicalId: string): boolean {
  return JSON.stringify(value ?? null).includes(`["${logicalId}","Arn"]`);
}

const WRITES = /^s3:(PutObject|DeleteObject|\*)$|^\*$/;

/**
 * An acknowledgement whose reason the template contradicts: a bucket said to be "written only by cdk deploy" that
 * a workload role may write, or a reason that cites CloudTrail in a template without a trail.
 */
export const ackContradicted: CloudFormationRule = {
  id: 'MLS-AWS-ACK-CONTRADICTED',
  level: 'error',
  target: 'cloudformation',
  title: "Acknowledgements' reasons match the template",
  description:
    "An acknowledgement is only as good as its reason. A reason that says a bucket is written only by the deploy, while a pod's role may write it, or that leans on a CloudTrail trail no stack defines, hides a real finding.",
  fix: 'Correct the reason (or the grant): say who writes the bucket and what records access, or add the logging the finding asks for.',
  check: ({ template, acknowledgements }) => {
    const resources = template.Resources ?? {};
    const hasTrail = Object.values(resources).some((r) => r.Type === 'AWS::CloudTrail::Trail');
    const out: Violation[] = [];
    for (const [logicalId, acks] of Object.entries(acknowledgements ?? {})) {
      for (const [rule, reason] of Object.entries(acks)) {
        // A claim that CloudTrail records something (not a mention of it).
        if (/CloudTrail (records|logs|audits)/i.test(reason) && !hasTrail) {
          out.push({
            resource: logicalId,
            message: `the ${rule} acknowledgement says CloudTrail records the calls, and no AWS::CloudTrail::Trail is in the template`,
          });
        }
        if (
          resources[logicalId]?.Type === 'AWS::S3::Bucket' &&
          /written only by (cdk )?deploy/i.test(reason)
        ) {
          const writers = Object.entries(resources)
            .filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && !id.startsWith('CustomCDKBucketDeployment'))
            .filter(([, r]) =>
              (
                (r.Properties?.PolicyDocument as { Statement?: Statement[] } | undefined)?.Statement ?? []
              ).some(
                (s) => [s.Action ?? []].flat().some((a) => WRITES.test(a)) && refersTo(s.Resource, logicalId),
              ),
            )
            .map(([id]) => id);
          if (writers.length) {
            out.push({
              resource: logicalId,
              message: `the ${rule} acknowledgement says the bucket is written only by the deploy, and ${writers.join(', ')} may write it`,
            });
          }
        }
      }
    }
    return out;
  },
};
