// Code generated from transport/pb/edgegate.proto by
// go test ./edge/webui -run TestSchemaUpToDate -update
// DO NOT EDIT.

/**
 * Protobuf messages of the edgegate wire protocol: message name -> fields in
 * the order Go's proto.Marshal writes them (by field number, members of a
 * oneof last), which the JS encoder follows to produce the same bytes. Each
 * field has number, name (lowerCamelCase JSON name), kind (protobuf kind:
 * string, bytes, bool, uint32, uint64, int64, enum, message), and when
 * applicable repeated, packed, message (message type name), enum (enum type
 * name) and oneof (oneof name).
 */
export const schema = {
  Position: [
    { number: 1, name: 'conversation', kind: 'string' },
    { number: 2, name: 'seq', kind: 'uint64' },
  ],
  Connect: [
    { number: 1, name: 'token', kind: 'string' },
    { number: 2, name: 'resumeToken', kind: 'string' },
    { number: 3, name: 'positions', kind: 'message', repeated: true, message: 'Position' },
    { number: 4, name: 'deviceId', kind: 'string' },
    { number: 5, name: 'compression', kind: 'enum', repeated: true, packed: true, enum: 'Compression' },
    { number: 6, name: 'clientVersion', kind: 'string' },
  ],
  Connected: [
    { number: 1, name: 'sessionId', kind: 'string' },
    { number: 2, name: 'userId', kind: 'string' },
    { number: 3, name: 'deviceId', kind: 'string' },
    { number: 4, name: 'resumeToken', kind: 'string' },
    { number: 5, name: 'resumed', kind: 'bool' },
    { number: 6, name: 'serverTimeMs', kind: 'int64' },
    { number: 7, name: 'compression', kind: 'enum', enum: 'Compression' },
    { number: 8, name: 'compressionThreshold', kind: 'uint32' },
    { number: 9, name: 'heartbeatIntervalMs', kind: 'uint32' },
    { number: 10, name: 'maxFrameBytes', kind: 'uint32' },
    { number: 11, name: 'maxMessageBytes', kind: 'uint32' },
    { number: 12, name: 'nodeId', kind: 'string' },
    { number: 13, name: 'subscribed', kind: 'message', repeated: true, message: 'Position' },
    { number: 14, name: 'rooms', kind: 'string', repeated: true },
    { number: 15, name: 'probeBurstIntervalMs', kind: 'uint32' },
    { number: 16, name: 'probeBurstsOff', kind: 'bool' },
  ],
  Subscribe: [
    { number: 1, name: 'requestId', kind: 'uint64' },
    { number: 2, name: 'conversations', kind: 'message', repeated: true, message: 'Position' },
    { number: 3, name: 'rooms', kind: 'string', repeated: true },
    { number: 4, name: 'fromHead', kind: 'bool' },
  ],
  Subscribed: [
    { number: 1, name: 'requestId', kind: 'uint64' },
    { number: 2, name: 'conversations', kind: 'message', repeated: true, message: 'Position' },
    { number: 3, name: 'rooms', kind: 'message', repeated: true, message: 'RoomInfo' },
  ],
  RoomInfo: [
    { number: 1, name: 'room', kind: 'string' },
    { number: 2, name: 'viewers', kind: 'uint64' },
  ],
  Unsubscribe: [
    { number: 1, name: 'requestId', kind: 'uint64' },
    { number: 2, name: 'conversations', kind: 'string', repeated: true },
    { number: 3, name: 'rooms', kind: 'string', repeated: true },
  ],
  Send: [
    { number: 1, name: 'clientMsgId', kind: 'string' },
    { number: 4, name: 'body', kind: 'bytes' },
    { number: 5, name: 'class', kind: 'enum', enum: 'DeliveryClass' },
    { number: 2, name: 'conversation', kind: 'string', oneof: 'target' },
    { number: 3, name: 'room', kind: 'string', oneof: 'target' },
  ],
  Ack: [
    { number: 1, name: 'clientMsgId', kind: 'string' },
    { number: 2, name: 'conversation', kind: 'string' },
    { number: 3, name: 'room', kind: 'string' },
    { number: 4, name: 'seq', kind: 'uint64' },
    { number: 5, name: 'serverTimeMs', kind: 'int64' },
    { number: 6, name: 'duplicate', kind: 'bool' },
  ],
  Message: [
    { number: 1, name: 'conversation', kind: 'string' },
    { number: 2, name: 'room', kind: 'string' },
    { number: 3, name: 'seq', kind: 'uint64' },
    { number: 4, name: 'sender', kind: 'string' },
    { number: 5, name: 'serverTimeMs', kind: 'int64' },
    { number: 6, name: 'body', kind: 'bytes' },
    { number: 7, name: 'clientMsgId', kind: 'string' },
    { number: 8, name: 'class', kind: 'enum', enum: 'DeliveryClass' },
    { number: 9, name: 'senderDevice', kind: 'string' },
  ],
  Deliver: [
    { number: 1, name: 'messages', kind: 'message', repeated: true, message: 'Message' },
    { number: 2, name: 'dropped', kind: 'uint64' },
  ],
  DeliveryAck: [
    { number: 1, name: 'positions', kind: 'message', repeated: true, message: 'Position' },
  ],
  SyncRequest: [
    { number: 1, name: 'requestId', kind: 'uint64' },
    { number: 2, name: 'positions', kind: 'message', repeated: true, message: 'Position' },
    { number: 3, name: 'limit', kind: 'uint32' },
  ],
  SyncResponse: [
    { number: 1, name: 'requestId', kind: 'uint64' },
    { number: 2, name: 'messages', kind: 'message', repeated: true, message: 'Message' },
    { number: 3, name: 'hasMore', kind: 'bool' },
  ],
  PresenceUser: [
    { number: 1, name: 'userId', kind: 'string' },
    { number: 2, name: 'devices', kind: 'uint32' },
    { number: 3, name: 'online', kind: 'bool' },
  ],
  PresenceQuery: [
    { number: 1, name: 'requestId', kind: 'uint64' },
    { number: 2, name: 'conversation', kind: 'string' },
    { number: 3, name: 'room', kind: 'string' },
  ],
  Presence: [
    { number: 1, name: 'requestId', kind: 'uint64' },
    { number: 2, name: 'conversation', kind: 'string' },
    { number: 3, name: 'room', kind: 'string' },
    { number: 4, name: 'users', kind: 'message', repeated: true, message: 'PresenceUser' },
    { number: 5, name: 'viewers', kind: 'uint64' },
  ],
  Ping: [
    { number: 1, name: 'nonce', kind: 'uint64' },
    { number: 2, name: 'sentTimeMs', kind: 'int64' },
  ],
  Pong: [
    { number: 1, name: 'nonce', kind: 'uint64' },
    { number: 2, name: 'sentTimeMs', kind: 'int64' },
    { number: 3, name: 'serverTimeMs', kind: 'int64' },
    { number: 4, name: 'serverSegments', kind: 'uint32' },
    { number: 5, name: 'serverRetransmits', kind: 'uint32' },
    { number: 6, name: 'serverOutOfOrder', kind: 'uint32' },
  ],
  Error: [
    { number: 1, name: 'code', kind: 'enum', enum: 'ErrorCode' },
    { number: 2, name: 'reason', kind: 'string' },
    { number: 3, name: 'requestId', kind: 'uint64' },
    { number: 4, name: 'clientMsgId', kind: 'string' },
    { number: 5, name: 'retryAfterMs', kind: 'uint32' },
  ],
  Redirect: [
    { number: 1, name: 'reason', kind: 'string' },
    { number: 2, name: 'urls', kind: 'string', repeated: true },
    { number: 3, name: 'retryAfterMs', kind: 'uint32' },
  ],
};

/** Frame type byte of each message that travels in a frame (transport.FrameType). */
export const frameTypes = {
  Connect: 1,
  Connected: 2,
  Subscribe: 3,
  Subscribed: 4,
  Unsubscribe: 5,
  Send: 6,
  Ack: 7,
  Deliver: 8,
  DeliveryAck: 9,
  SyncRequest: 10,
  SyncResponse: 11,
  PresenceQuery: 12,
  Presence: 13,
  Ping: 14,
  Pong: 15,
  Error: 16,
  Redirect: 17,
};

/** Enums: enum name -> value name -> number. */
export const enums = {
  DeliveryClass: {
    DELIVERY_CLASS_UNSPECIFIED: 0,
    DELIVERY_CLASS_ORDERED: 1,
    DELIVERY_CLASS_LIVE: 2,
  },
  Compression: {
    COMPRESSION_NONE: 0,
    COMPRESSION_S2: 1,
    COMPRESSION_ZSTD: 2,
  },
  ErrorCode: {
    ERROR_CODE_UNSPECIFIED: 0,
    ERROR_CODE_BAD_FRAME: 1,
    ERROR_CODE_BAD_REQUEST: 2,
    ERROR_CODE_UNAUTHENTICATED: 3,
    ERROR_CODE_TOKEN_EXPIRED: 4,
    ERROR_CODE_FORBIDDEN: 5,
    ERROR_CODE_NOT_FOUND: 6,
    ERROR_CODE_TOO_LARGE: 7,
    ERROR_CODE_RATE_LIMITED: 8,
    ERROR_CODE_TOO_MANY_SUBSCRIPTIONS: 9,
    ERROR_CODE_OVERLOADED: 10,
    ERROR_CODE_INTERNAL: 11,
    ERROR_CODE_UNAVAILABLE: 12,
    ERROR_CODE_RESUME_REJECTED: 13,
  },
};
