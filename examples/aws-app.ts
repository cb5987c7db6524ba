/**
 * The example platform on AWS alone, as a plain CDK app: `npx cdk synth` / `npx cdk deploy` (see cdk.json).
 */
import { App } from 'aws-cdk-lib';
import { AwsMlStack } from '../stacks/aws';
import { definePlatform } from './platform';

const app = new App();
definePlatform(
  new AwsMlStack(app, 'ml-platform-aws', {
    description: 'mlstack example platform',
    // The MLflow pods' manifests name the region of its Secrets Manager secret.
    env: { region: process.env.CDK_DEFAULT_REGION ?? 'us-east-1' },
  }),
);
app.synth();
