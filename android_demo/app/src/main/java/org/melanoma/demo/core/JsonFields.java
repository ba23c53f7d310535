package org.melanoma.demo.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Typed, path-aware access to one parsed JSON object, for error messages such as
 * "manifest.preprocessing.size: expected an integer, got a string".
 *
 * <p>{@link #checkKeys} mirrors melanoma.manifest._build: missing required fields and unknown
 * fields are both errors, listed in sorted order.
 */
final class JsonFields {
    /** After an unknown field that no schema version this app reads has. */
    static final String NEWER = " (in no manifest schema version this app reads: written by a"
            + " newer toolkit? Update the app)";

    private final Map<String, Object> map;
    private final String where;

    private JsonFields(Map<String, Object> map, String where) {
        this.map = map;
        this.where = where;
    }

    @SuppressWarnings("unchecked")
    static JsonFields of(Object value, String where) throws ManifestException {
        if (!(value instanceof Map)) {
            throw new ManifestException(where + ": expected an object");
        }
        return new JsonFields((Map<String, Object>) value, where);
    }

    String where() {
        return where;
    }

    boolean has(String key) {
        return map.containsKey(key);
    }

    Object raw(String key) {
        return map.get(key);
    }

    /** Fail on missing required keys, then on keys outside {@code allowed}. */
    void checkKeys(String[] required, String[] optional) throws ManifestException {
        checkKeys(required, optional, new String[0]);
    }

    /**
     * As {@link #checkKeys(String[], String[])}; {@code inOtherVersions} are the fields this
     * section has in the other schema versions the app reads. An unknown field in none of them
     * came from a newer toolkit (every field it adds bumps the schema version, and none was
     * removed), so the message says to update the app, as for a newer schema_version.
     */
    void checkKeys(String[] required, String[] optional, String[] inOtherVersions)
            throws ManifestException {
        Set<String> missing = new TreeSet<String>();
        for (String key : required) {
            if (!map.containsKey(key)) {
                missing.add(key);
            }
        }
        if (!missing.isEmpty()) {
            throw new ManifestException(where + ": missing field(s) " + join(missing));
        }
        Set<String> known = new TreeSet<String>(Arrays.asList(required));
        known.addAll(Arrays.asList(optional));
        Set<String> unknown = new TreeSet<String>(map.keySet());
        unknown.removeAll(known);
        if (!unknown.isEmpty()) {
            Set<String> newer = new TreeSet<String>(unknown);
            newer.removeAll(Arrays.asList(inOtherVersions));
            throw new ManifestException(where + ": unknown field(s) " + join(unknown)
                    + (newer.isEmpty() ? "" : NEWER));
        }
    }

    JsonFields object(String key) throws ManifestException {
        return of(map.get(key), path(key));
    }

    String string(String key) throws ManifestException {
        Object value = map.get(key);
        if (!(value instanceof String)) {
            throw typeError(key, "a string", value);
        }
        return (String) value;
    }

    boolean bool(String key) throws ManifestException {
        Object value = map.get(key);
        if (!(value instanceof Boolean)) {
            throw typeError(key, "true or false", value);
        }
        return (Boolean) value;
    }

    long integer(String key) throws ManifestException {
        Object value = map.get(key);
        if (!(value instanceof Long)) {
            throw typeError(key, "an integer", value);
        }
        return (Long) value;
    }

    /**
     * A finite number, as melanoma.manifest reads a float field: a literal past a double's range
     * (1e400) parses as Infinity in Java and in Python's json, and Python refuses it.
     */
    double number(String key) throws ManifestException {
        return finite(key, map.get(key));
    }

    private double finite(String key, Object value) throws ManifestException {
        if (!(value instanceof Long) && !(value instanceof Double)) {
            throw typeError(key, "a number", value);
        }
        double number = ((Number) value).doubleValue();
        if (Double.isInfinite(number)) { // NaN is no JSON literal: Json.parse refuses it
            throw new ManifestException(
                    path(key) + ": expected a finite number, got " + number);
        }
        return number;
    }

    /** A number or null (Python's {@code float | None}). */
    Double numberOrNull(String key) throws ManifestException {
        return map.get(key) == null ? null : Double.valueOf(number(key));
    }

    @SuppressWarnings("unchecked")
    List<Object> list(String key) throws ManifestException {
        Object value = map.get(key);
        if (!(value instanceof List)) {
            throw typeError(key, "a list", value);
        }
        return (List<Object>) value;
    }

    double[] numbers(String key) throws ManifestException {
        List<Object> values = list(key);
        double[] out = new double[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = finite(key + "[" + i + "]", values.get(i));
        }
        return out;
    }

    /** A non-empty list of non-empty strings (melanoma.manifest._RULES for preprocessing.steps). */
    List<String> strings(String key) throws ManifestException {
        List<Object> values = list(key);
        List<String> out = new ArrayList<String>();
        for (Object v : values) {
            if (!(v instanceof String) || ((String) v).isEmpty()) {
                break;
            }
            out.add((String) v);
        }
        if (values.isEmpty() || out.size() < values.size()) {
            throw new ManifestException(path(key) + ": expected a list of non-empty strings");
        }
        return Collections.unmodifiableList(out);
    }

    /** An object whose values are all strings (Python's {@code dict[str, str]}). */
    Map<String, String> stringMap(String key) throws ManifestException {
        JsonFields fields = object(key);
        Map<String, String> out = new LinkedHashMap<String, String>();
        for (String name : fields.map.keySet()) {
            out.put(name, fields.string(name));
        }
        return out;
    }

    /** An object with any values, or an empty map when the optional key is absent. */
    Map<String, Object> anyMapOrEmpty(String key) throws ManifestException {
        if (!map.containsKey(key)) {
            return Collections.emptyMap();
        }
        return new LinkedHashMap<String, Object>(object(key).map);
    }

    List<Object> listOrCopy(String key) throws ManifestException {
        return new ArrayList<Object>(list(key));
    }

    String path(String key) {
        return where + "." + key;
    }

    ManifestException typeError(String key, String expected, Object got) {
        return new ManifestException(path(key) + ": expected " + expected + ", got " + kind(got));
    }

    static String kind(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof String) {
            return "a string";
        }
        if (value instanceof Boolean) {
            return "a boolean";
        }
        if (value instanceof Long) {
            return "the integer " + value;
        }
        if (value instanceof Double) { // Infinity bare, as Python's message shows it
            return Double.isInfinite((Double) value) ? value.toString() : "the number " + value;
        }
        if (value instanceof List) {
            return "a list";
        }
        return "an object";
    }

    private static String join(Set<String> names) {
        StringBuilder out = new StringBuilder();
        for (String name : names) {
            if (out.length() > 0) {
                out.append(", ");
            }
            out.append(name);
        }
        return out.toString();
    }
}
