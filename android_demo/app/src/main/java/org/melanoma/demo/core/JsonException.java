package org.melanoma.demo.core;

/** Text that is not valid JSON; the message names the line and column. */
public final class JsonException extends Exception {
    private static final long serialVersionUID = 1L;

    public JsonException(String message) {
        super(message);
    }
}
