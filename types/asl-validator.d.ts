declare module 'asl-validator' {
  const validate: (
    definition: unknown,
    options?: { checkPaths?: boolean; checkArn?: boolean },
  ) => { isValid: boolean; errors: Array<{ 'Error code': string; Message: string }> };
  export default validate;
}
