/**
 * The secret that signs session tokens (and derives other keys, such as usage cursors'): `JWT_SECRET`, or one
 * generated at first start and kept in the database, the same on every instance and after a restart. The class
 * is its own injection token.
 */
export class SigningSecret {
  constructor(readonly value: string) {}
}
