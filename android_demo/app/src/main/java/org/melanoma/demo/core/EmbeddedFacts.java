package org.melanoma.demo.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The facts a .pte carries about itself, checked against the manifest beside it.
 *
 * <p>Since 2026-12-07 the exporter writes each of them into the .pte as an ExecuTorch constant
 * method that returns one string (melanoma.export.base.LABEL_KEYS, ArtifactLabel.facts). The
 * manifest's sha256 ties it to the file, but nothing ties the manifest's terms and origin to the
 * weights: a manifest rewritten for another checkpoint, its file fields set to this .pte, passes
 * the file checks and puts its licence and thresholds on screen. These facts are that tie.
 */
public final class EmbeddedFacts {
    /** The constant methods the app reads, named as the exporter names them. */
    public static final List<String> KEYS = Collections.unmodifiableList(Arrays.asList(
            "license", "attribution", "source_checkpoint_sha256", "precision"));

    /**
     * What the screen says of a .pte from an exporter older than the facts: when it ran is not
     * known (an older toolkit exports today too; the manifest's created_utc is not the toolkit's).
     */
    public static final String NOT_EMBEDDED = "Terms not embedded in this file (exported by a"
            + " toolkit from before 2026-12-07): as its manifest states.";

    /** What the screen says when the .pte states the manifest's terms and origin. */
    public static final String AGREE =
            "The file itself states the same licence and source checkpoint.";

    private EmbeddedFacts() {}

    /**
     * The line for the screen if {@code embedded} (key to string, only the keys the .pte has;
     * empty for a file exported before them) agrees with {@code manifest}; otherwise a
     * ManifestException naming each fact that differs. Once a file embeds any of them it must
     * state them all as its manifest does: an absent attribution is one the manifest leaves null.
     */
    public static String check(Manifest manifest, Map<String, String> embedded)
            throws ManifestException {
        if (embedded.isEmpty()) {
            return NOT_EMBEDDED;
        }
        List<String> differences = new ArrayList<String>();
        compare(differences, "license", embedded.get("license"), manifest.license);
        compare(differences, "attribution", embedded.get("attribution"), manifest.attribution);
        compare(differences, "source_checkpoint_sha256",
                embedded.get("source_checkpoint_sha256"), manifest.sourceCheckpointSha256);
        compare(differences, "precision", embedded.get("precision"), manifest.precision);
        if (!differences.isEmpty()) {
            throw new ManifestException("the terms embedded in " + manifest.file.name
                    + " disagree with its manifest: " + String.join("; ", differences)
                    + " (a manifest written for another model beside this file?)");
        }
        return AGREE;
    }

    private static void compare(List<String> differences, String key, String inFile,
            String inManifest) {
        if (inFile == null ? inManifest == null : inFile.equals(inManifest)) {
            return;
        }
        // A sha256 in full is 64 characters of noise on a phone screen; 12 tell them apart,
        // unless those 12 are the same.
        boolean abbreviate = key.endsWith("sha256") && inFile != null && inManifest != null
                && !prefix(inFile).equals(prefix(inManifest));
        differences.add(key + " " + shown(inFile, abbreviate) + " in the file, "
                + shown(inManifest, abbreviate) + " in the manifest");
    }

    private static String shown(String value, boolean abbreviate) {
        if (value == null) {
            return "none";
        }
        return "\"" + (abbreviate ? prefix(value) + "..." : value) + "\"";
    }

    private static String prefix(String value) {
        return value.length() > 12 ? value.substring(0, 12) : value;
    }
}
