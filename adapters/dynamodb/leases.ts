import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DependencyError } from '../../core/errors.js';
import type { Leases } from '../../core/ports.js';

/**
 * Leases as items of the entity table: taken with a conditional put (absent, or expired), released with a delete
 * conditional on the holder's token, so a late release never frees a lease someone else took after expiry.
 */
export class DynamoLeases implements Leases {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly now: () => number = Date.now,
  ) {}

  async acquire(name: string, ttlMs: number) {
    const Key = { PK: `LEASE#${name}`, SK: 'LEASE' };
    const token = randomUUID();
    const now = this.now();
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...Key, token, expiresAt: now + ttlMs, ttl: Math.ceil((now + ttlMs) / 1000) + 60 },
          ConditionExpression: 'attribute_not_exists(PK) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': now },
        }),
      );
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return undefined;
      const err = e as { name?: string; message?: string };
      throw new DependencyError(`DynamoDB lease ${name} failed: ${err.name}: ${err.message}`);
    }
    return {
      release: async () => {
        await this.db
          .send(
            new DeleteCommand({
              TableName: this.table,
              Key,
              ConditionExpression: '#token = :token',
              ExpressionAttributeNames: { '#token': 'token' },
              ExpressionAttributeValues: { ':token': token },
            }),
          )
          .catch(() => undefined);
      },
    };
  }
}
