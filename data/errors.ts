// Error types a person can act on: each names the file and says what to do. ArchiveError is
// shared with nn/io (.pth is a zip) and lives in base/.

/** A file that could not be decoded (corrupt, truncated, empty or unsupported). */
export class DecodeError extends Error {
  /** `file` names the image, `reason` says what is wrong with it. */
  constructor(readonly file: string, readonly reason: string) {
    super(`cannot decode image "${file}": ${reason}`);
    this.name = "DecodeError";
  }
}

/** A dataset whose layout or contents are not usable as given. */
export class DatasetError extends Error {
  /** The message names the dataset and what to do. */
  constructor(message: string) {
    super(message);
    this.name = "DatasetError";
  }
}

/** Class folders that hold no readable images (ImageFolder without allowEmptyClasses). */
export class EmptyClassError extends DatasetError {
  /** `classes`: the empty classes' folder names; the message names their paths. */
  constructor(message: string, readonly classes: string[]) {
    super(message);
    this.name = "EmptyClassError";
  }
}

export { ArchiveError } from "../base/errors.ts";
