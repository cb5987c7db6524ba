export * from './aws-ml-stack';
