/**
 * A job's statuses, the one list: the queue's records and the client's wire types both take it
 * from here (the client may import only shared's vocabulary, never the queue).
 */
export const JOB_STATUSES = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'timeout',
  'oom',
  'output_limit',
  'killed',
  'cancelled',
  'policy_violation',
  'patch_failed',
  'error',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export type TerminalStatus = Exclude<JobStatus, 'queued' | 'running'>;
export function isTerminal(status: JobStatus): status is TerminalStatus {
  return status !== 'queued' && status !== 'running';
}
