package org.melanoma.demo.core;

/**
 * A valid manifest in the layout Manifest.to_json() writes (sorted keys, indent 2): {@link #JSON}
 * in schema version 1, {@link #V2} in version 2, and so on; {@link #V6_LICENSED} is a valid
 * version 6 ({@link #V6} lacks its license).
 */
final class SampleManifest {
    private SampleManifest() {}

    static final String JSON = String.join("\n",
            "{",
            "  \"created_utc\": \"2026-11-22T00:00:00Z\",",
            "  \"file\": {",
            "    \"name\": \"cnn-executorch-int8.pte\",",
            "    \"sha256\": \"" + repeat("ab", 32) + "\",",
            "    \"size_bytes\": 4096",
            "  },",
            "  \"input\": {",
            "    \"dtype\": \"float32\",",
            "    \"layout\": \"NCHW\",",
            "    \"max_batch\": 128,",
            "    \"name\": \"images\",",
            "    \"shape\": [\"N\", 3, 32, 32],",
            "    \"value_range\": [-4.9, 2.2]",
            "  },",
            "  \"method\": \"supervised\",",
            "  \"model_name\": \"cnn\",",
            "  \"output\": {",
            "    \"activation\": \"sigmoid\",",
            "    \"kind\": \"logit\",",
            "    \"name\": \"logits\",",
            "    \"positive_class\": \"melanoma\",",
            "    \"shape\": [\"N\", 1]",
            "  },",
            "  \"precision\": \"int8\",",
            "  \"preprocessing\": {",
            "    \"color\": \"RGB\",",
            "    \"crop\": \"center_square\",",
            "    \"mean\": [0.742, 0.532, 0.556],",
            "    \"min_side\": 32,",
            "    \"resize\": \"area\",",
            "    \"scale\": 0.00392156862745098,",
            "    \"size\": 32,",
            "    \"std\": [0.152, 0.181, 0.197]",
            "  },",
            "  \"quantization\": {",
            "    \"per_channel\": true,",
            "    \"program_sha256\": \"" + repeat("5e", 32) + "\",",
            "    \"qat\": false,",
            "    \"scheme\": \"int8-pt2e-xnnpack\"",
            "  },",
            "  \"schema_version\": 1,",
            "  \"source_checkpoint_sha256\": \"" + repeat("3f", 32) + "\",",
            "  \"target\": \"executorch\",",
            "  \"target_info\": {\"delegated_ops\": 11},",
            "  \"thresholds\": [",
            "    {",
            "      \"name\": \"youden\",",
            "      \"probability\": 0.4817,",
            "      \"val_sensitivity\": 0.81,",
            "      \"val_specificity\": 0.79",
            "    },",
            "    {",
            "      \"name\": \"sensitivity_0.90\",",
            "      \"probability\": 0.2634,",
            "      \"val_sensitivity\": 0.9,",
            "      \"val_specificity\": 0.62",
            "    }",
            "  ],",
            "  \"verification\": {",
            "    \"check\": \"outputs\",",
            "    \"decision_agreement\": 0.985,",
            "    \"max_abs_diff\": 0.031,",
            "    \"n_images\": 600,",
            "    \"passed\": true,",
            "    \"reference\": \"fp32 PyTorch checkpoint\",",
            "    \"runtime\": \"executorch 1.5.1\",",
            "    \"tolerance\": null",
            "  },",
            "  \"versions\": {",
            "    \"executorch\": \"1.5.1\"",
            "  }",
            "}",
            "");

    /** The same manifest in schema version 2: three added fields, in sorted-key position. */
    static final String V2 = replace(replace(replace(replace(JSON,
            "\"schema_version\": 1", "\"schema_version\": 2"),
            "    \"color\": \"RGB\",",
            "    \"alpha\": \"composite_on_white\",\n    \"color\": \"RGB\","),
            "    \"crop\": \"center_square\",",
            "    \"crop\": \"center_square\",\n    \"exif_orientation\": \"applied\","),
            "    \"decision_agreement\": 0.985,",
            "    \"decision_agreement\": 0.985,\n    \"float_decision_agreement\": 0.97,");

    /** The same manifest in schema version 3: version 2 plus color_profile. */
    static final String V3 = replace(replace(V2,
            "\"schema_version\": 2", "\"schema_version\": 3"),
            "    \"color\": \"RGB\",",
            "    \"color\": \"RGB\",\n    \"color_profile\": \"convert_to_srgb\",");

    /** The same manifest in schema version 4: version 3 plus the int8 ranges and the default. */
    static final String V4 = replace(replace(replace(V3,
            "\"schema_version\": 3", "\"schema_version\": 4"),
            "  \"file\": {",
            "  \"default_threshold\": \"sensitivity_0.90\",\n  \"file\": {"),
            "    \"per_channel\": true,",
            "    \"input_range\": [-4.73, 2.95],\n    \"logit_range\": [-6.0, 6.86],\n"
                    + "    \"per_channel\": true,");

    /** The same manifest in schema version 5: version 4 plus the steps in words. */
    static final String V5 = replace(replace(V4,
            "\"schema_version\": 4", "\"schema_version\": 5"),
            "    \"size\": 32,",
            "    \"size\": 32,\n    \"steps\": [\"decode\", \"crop\"],");

    /** The same manifest in schema version 6: version 5 plus the weights' terms. */
    static final String V6 = replace(replace(V5,
            "\"schema_version\": 5", "\"schema_version\": 6"),
            "  \"created_utc\":",
            "  \"attribution\": \"Trained on HAM10000; non-commercial use only\",\n"
                    + "  \"created_utc\":");

    /** V6 with the license line: the field sorts after input, before method. */
    static final String V6_LICENSED = replace(V6,
            "  \"method\": \"supervised\",",
            "  \"license\": \"CC-BY-NC-4.0\",\n  \"method\": \"supervised\",");

    /** JSON with the first occurrence of {@code from} replaced; fails if it is not there. */
    static String with(String from, String to) {
        return replace(JSON, from, to);
    }

    /** {@link #with} on the version 4 manifest. */
    static String v4With(String from, String to) {
        return replace(V4, from, to);
    }

    /** {@link #with} on the version 3 manifest. */
    static String v3With(String from, String to) {
        return replace(V3, from, to);
    }

    /** {@link #with} on the version 2 manifest. */
    static String v2With(String from, String to) {
        return replace(V2, from, to);
    }

    private static String replace(String json, String from, String to) {
        if (!json.contains(from)) {
            throw new AssertionError("sample manifest has no '" + from + "'");
        }
        return json.replaceFirst(java.util.regex.Pattern.quote(from),
                java.util.regex.Matcher.quoteReplacement(to));
    }

    static String repeat(String s, int n) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < n; i++) {
            out.append(s);
        }
        return out.toString();
    }
}
