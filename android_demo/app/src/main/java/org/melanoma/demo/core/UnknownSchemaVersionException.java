package org.melanoma.demo.core;

/** A manifest written with a schema version this app does not know. */
public final class UnknownSchemaVersionException extends ManifestException {
    private static final long serialVersionUID = 1L;

    public UnknownSchemaVersionException(String message) {
        super(message);
    }
}
