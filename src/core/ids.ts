import { v7 as uuidv7 } from 'uuid';

/**
 * Time-ordered ids (UUIDv7): sortable by creation, which keeps run listings and cursors cheap.
 */
export const newId = (): string => uuidv7();

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
