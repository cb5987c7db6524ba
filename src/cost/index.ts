// Cost estimates of a synth output from a dated price catalog (`mlstack cost`, and the cost delta of `mlstack diff`).
export * from './catalog';
export * from './delta';
export * from './estimate';
export * from './render';
