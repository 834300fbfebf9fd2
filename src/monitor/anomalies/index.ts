export { AnomalyDetector, AnomalySchema, type AlertResult, type Anomaly, type AnomalyDetectorOptions, type AnomalyEvent, type BehaviourEvents } from './anomaly-detector.js';
