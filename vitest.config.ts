import { defineConfig } from 'vitest/config';

/**
 * Slow or machine-wide suites are projects of their own, run one group after another once the
 * fast ones are done (sequence.groupOrder), never next to suites that share the engine.
 */
const SLOW = {
  // the tripwire channel on the host's audit multicast: both files flood it on purpose (a flood
  // may cost a concurrent run its barrier record, which is then reported, never hidden), so they
  // run one after the other and beside nothing else (~15 s)
  tripwire: ['test/tripwire-channel.test.ts', 'test/detectors-behaviour.test.ts'],
  // Redis Sentinel failover: its own primary, replicas and sentinels, jobs on the engine (~30 s)
  sentinel: ['test/sentinel.docker.test.ts'],
  // the docker-compose stack: builds the service images, brings the stack up and down (~3-6 min)
  compose: ['test/compose.docker.test.ts'],
  // the CI workflow examples as a runner runs them: each installs the CLI with npm (15 s quiet, minutes under load)
  examples: ['test/ci-examples.docker.test.ts'],
  // the console in headless Chromium (Debian's package through playwright-core), against a real Airlock
  browser: ['test/**/*.browser.test.ts'],
  // faults (issue 18): the process SIGKILLed, Redis restarted, the machine's dockerd restarted, a full data disk, the
  // 100-job soak; last of all, one file at a time (the dockerd test stops every container on the machine)
  chaos: ['test/**/*.chaos.test.ts'],
};
/** The red-team, compatibility and archive suites again, every job on the gVisor tier (its *-gvisor profiles). */
const GVISOR = ['test/redteam.docker.test.ts', 'test/compat.docker.test.ts', 'test/redteam-archives.docker.test.ts'];

export default defineConfig({
  test: {
    // Docker-backed suites share one engine on a 2-core machine: cap parallel files.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    globalSetup: ['test/helpers/global-setup.ts'],
    projects: [
      { extends: true, test: { name: 'default', include: ['test/**/*.test.ts'], exclude: Object.values(SLOW).flat(), sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'tripwire', include: SLOW.tripwire, fileParallelism: false, sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'browser', include: SLOW.browser, sequence: { groupOrder: 2 } } },
      { extends: true, test: { name: 'examples', include: SLOW.examples, sequence: { groupOrder: 3 } } },
      { extends: true, test: { name: 'sentinel', include: SLOW.sentinel, sequence: { groupOrder: 4 } } },
      { extends: true, test: { name: 'gvisor', include: GVISOR, env: { AIRLOCK_TEST_ISOLATION: 'gvisor' }, sequence: { groupOrder: 6 } } },
      { extends: true, test: { name: 'compose', include: SLOW.compose, testTimeout: 900_000, hookTimeout: 900_000, sequence: { groupOrder: 5 } } },
      // after every other group (the highest groupOrder), its files one after another
      { extends: true, test: { name: 'chaos', include: SLOW.chaos, fileParallelism: false, testTimeout: 600_000, hookTimeout: 300_000, sequence: { groupOrder: 99 } } },
    ],
  },
});
