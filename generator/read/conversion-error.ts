// A RAML type (or an included JSON Schema) that cannot be made into a JSON Schema: reported
// with the type's name and, when it came from another file, that file.
export class ConversionError extends Error {
  constructor(message: string, readonly typeName?: string, readonly file?: string) {
    super(message);
    this.name = "ConversionError";
  }
}

