export { ApiKeyStore, parseApiKey, ROLES, type ApiKeyInfo, type CreatedApiKey, type Role } from './api-key-store.js';
