/**
 * Credit scoring as a function model: a logistic scoring rule over four applicant features, and cut-offs that turn
 * the probability of default into a decision. The coefficients are in scorecard.json next to this file, read once by
 * load(). See README.md for the contract and reference.py for the independent check.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** For the Open Inference Protocol (V2): one FP64 row of 4 features per applicant, two outputs per applicant. */
export const metadata = {
  inputs: [{ name: 'features', datatype: 'FP64', shape: [-1, 4] }],
  outputs: [
    { name: 'probability', datatype: 'FP64', shape: [-1] },
    { name: 'decision', datatype: 'BYTES', shape: [-1] },
  ],
};

/** The warm-up request (without it, the server would warm up with a row of zeros from `metadata`). */
export const warmup = [{ income: 52, debt: 9.5, age: 41, late_payments: 0 }];

/** Runs once before the warm-up; what it returns is `context.state` in every predict call. */
export async function load(context) {
  const card = JSON.parse(await readFile(path.join(context.artifactDir, 'scorecard.json'), 'utf8'));
  if (card.features.length !== card.weights.length) throw new Error('scorecard.json: one weight per feature');
  context.logger.info('scorecard loaded', { features: card.features });
  return card;
}

/**
 * One prediction per applicant: `{probability, decision}`, plus `contributions` (each feature's share of the score)
 * when the request's parameters say `{"explain": true}`. An applicant is an object keyed by feature name (V1) or an
 * array of the 4 features in scorecard order (V1 or V2).
 */
export async function predict(instances, context) {
  const card = context.state;
  const explain = context.parameters.explain === true;
  return instances.map((applicant, i) => {
    const x = card.features.map((name, j) => {
      const value = Array.isArray(applicant) ? applicant[j] : applicant?.[name];
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        // An error with a 4xx `status` is answered with that status (bad input); any other error is a 500.
        const message = `applicant ${i}: ${name} must be a number, got ${JSON.stringify(value) ?? 'nothing'}`;
        throw Object.assign(new Error(message), { status: 400 });
      }
      return value;
    });
    const contributions = x.map((v, j) => card.weights[j] * v);
    const score = contributions.reduce((sum, c) => sum + c, card.intercept);
    const probability = 1 / (1 + Math.exp(-score));
    const decision =
      probability < card.approve_below ? 'approve' : probability < card.decline_from ? 'review' : 'decline';
    return explain
      ? { probability, decision, contributions: Object.fromEntries(card.features.map((f, j) => [f, contributions[j]])) }
      : { probability, decision };
  });
}
