import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { DependencyError } from '../../core/errors.js';
import type { IdempotencyRecord, IdempotencyStore } from '../../core/ports.js';

const keyOf = (key: string) => ({ PK: `IDEM#${key}`, SK: 'IDEMPOTENCY' });

const wrap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) throw e;
    const err = e as { name?: string; message?: string };
    throw new DependencyError(`DynamoDB ${what} failed: ${err.name ?? 'Error'}: ${err.message ?? String(e)}`);
  }
};

/**
 * Idempotency records in the entity table. `ttl` (epoch seconds) lets DynamoDB expire them on AWS; dynalite never
 * expires anything, so an expired record is also treated as absent when read.
 */
export class DynamoIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(key: string): Promise<IdempotencyRecord | undefined> {
    const out = await wrap('get idempotency record', () =>
      this.db.send(new GetCommand({ TableName: this.table, Key: keyOf(key), ConsistentRead: true })),
    );
    const item = out.Item as (IdempotencyRecord & { ttl: number }) | undefined;
    if (!item || Date.parse(item.expiresAt) <= this.now().getTime()) return undefined;
    const {
      PK: _pk,
      SK: _sk,
      ttl: _ttl,
      ...record
    } = item as IdempotencyRecord & { PK: string; SK: string; ttl: number };
    return record;
  }

  async claim(record: IdempotencyRecord): Promise<boolean> {
    try {
      await wrap('claim idempotency key', () =>
        this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...keyOf(record.key), ...record, ttl: Math.floor(Date.parse(record.expiresAt) / 1000) },
            // An expired record may be replaced (dynalite keeps them forever).
            ConditionExpression: 'attribute_not_exists(PK) OR expiresAt <= :now',
            ExpressionAttributeValues: { ':now': this.now().toISOString() },
          }),
        ),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  async complete(key: string, response: NonNullable<IdempotencyRecord['response']>): Promise<void> {
    await wrap('complete idempotency record', () =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keyOf(key),
          UpdateExpression: 'SET #state = :done, #response = :response',
          ExpressionAttributeNames: { '#state': 'state', '#response': 'response' },
          ExpressionAttributeValues: { ':done': 'done', ':response': response },
        }),
      ),
    );
  }

  async release(key: string): Promise<void> {
    await wrap('release idempotency key', () =>
      this.db.send(new DeleteCommand({ TableName: this.table, Key: keyOf(key) })),
    );
  }
}
