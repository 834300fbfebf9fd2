/** The one BullMQ queue. Its keys live under the same prefix as ours. */
export const JOBS_QUEUE = 'jobs';

/** BullMQ job data: only the id. Inputs live in our own key; nothing secret ever goes here. */
export interface QueuedJobData {
  readonly jobId: string;
}
