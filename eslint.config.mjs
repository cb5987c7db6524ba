import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Cloud frameworks: only `stacks/` may load them. */
const CLOUD_FRAMEWORKS = ['aws-cdk-lib', 'aws-cdk-lib/*', 'cdktf', '@cdktf/*', 'cdk-nag'];

/** An import restriction rule for one layer. */
const layer = (groups) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: groups.map(([group, message]) => ({ group, message })),
    },
  ],
});

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'mlstack.out/', 'cdk.out/', 'scratch/', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // The layers (docs/design.md): src/ is the cloud-neutral core; constructs/ ask their stack for capabilities;
  // stacks/<cloud>/ implement them with one cloud's framework and know no other cloud.
  {
    files: ['src/**/*.ts'],
    rules: layer([
      [
        ['**/constructs/**', '**/stacks/**', '../index', '../../index'],
        'src/ is the core: it imports neither constructs/ nor stacks/.',
      ],
      [[...CLOUD_FRAMEWORKS, 'constructs'], 'src/ imports no construct or cloud framework.'],
    ]),
  },
  {
    files: ['constructs/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'BinaryExpression[operator=/^[!=]==?$/] > Literal[value=/^(aws|gcp|azure)$/]',
          message:
            'A construct does not branch on the cloud: put the fact in src/spec/clouds.ts or in a capability.',
        },
        {
          selector: 'SwitchCase > Literal[value=/^(aws|gcp|azure)$/]',
          message:
            'A construct does not branch on the cloud: put the fact in src/spec/clouds.ts or in a capability.',
        },
      ],
    },
  },
  {
    files: ['constructs/**/*.ts'],
    rules: layer([
      [CLOUD_FRAMEWORKS, 'A construct imports no cloud framework: ask MlStack.of(this) for a capability.'],
      [
        [
          '**/stacks/aws',
          '**/stacks/aws/**',
          '**/stacks/gcp',
          '**/stacks/gcp/**',
          '**/stacks/azure',
          '**/stacks/azure/**',
          '**/stacks/private/**',
          '**/stacks/app',
        ],
        'A construct knows no cloud: use the capability interfaces of stacks/ml-stack.ts and stacks/capabilities.ts.',
      ],
    ]),
  },
  {
    files: ['stacks/aws/**/*.ts'],
    rules: layer([
      [
        ['**/gcp', '**/gcp/**', '**/azure', '**/azure/**', 'cdktf', '@cdktf/*', '**/private/terraform'],
        'stacks/aws knows no other cloud.',
      ],
    ]),
  },
  {
    files: ['stacks/gcp/**/*.ts'],
    rules: layer([
      [
        [
          '**/aws',
          '**/aws/**',
          '**/azure',
          '**/azure/**',
          'aws-cdk-lib',
          'aws-cdk-lib/*',
          '@cdktf/provider-azurerm',
          '@cdktf/provider-azurerm/*',
        ],
        'stacks/gcp knows no other cloud.',
      ],
    ]),
  },
  {
    files: ['stacks/azure/**/*.ts'],
    rules: layer([
      [
        [
          '**/aws',
          '**/aws/**',
          '**/gcp',
          '**/gcp/**',
          'aws-cdk-lib',
          'aws-cdk-lib/*',
          '@cdktf/provider-google',
          '@cdktf/provider-google/*',
        ],
        'stacks/azure knows no other cloud.',
      ],
    ]),
  },
  {
    files: ['bin/**/*.js', '**/*.cjs'],
    languageOptions: {
      globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
