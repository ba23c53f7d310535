package org.melanoma.demo.core;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CodingErrorAction;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A model folder: one {@code <artifact>.manifest.json} and the artifact it names, checked like
 * melanoma.manifest.verify_artifact (present, right size, right sha256) before anything loads it.
 */
public final class ModelFiles {
    /** melanoma.manifest.SUFFIX */
    public static final String MANIFEST_SUFFIX = ".manifest.json";
    /**
     * The exporter's manifests are a few KB. A pushed one of a gigabyte was read whole, and the
     * OutOfMemoryError, which no caller catches, took the app down on every start while it
     * stayed in the pushed folder. (melanoma.sources allows 256 MB: a desktop's memory.)
     */
    public static final int MAX_MANIFEST_BYTES = 1 << 20;

    public final File manifestFile;
    public final File artifact;
    public final Manifest manifest;

    private ModelFiles(File manifestFile, File artifact, Manifest manifest) {
        this.manifestFile = manifestFile;
        this.artifact = artifact;
        this.manifest = manifest;
    }

    /** The one manifest in {@code dir}, or null if there is none; more than one is an error. */
    public static File findManifest(File dir) throws ManifestException {
        File[] files = dir.listFiles();
        List<File> found = new ArrayList<File>();
        if (files != null) {
            for (File f : files) {
                if (f.isFile() && f.getName().endsWith(MANIFEST_SUFFIX)) {
                    found.add(f);
                }
            }
        }
        if (found.size() > 1) {
            throw new ManifestException("found " + found.size() + " manifests in " + dir
                    + ": keep exactly one model there");
        }
        return found.isEmpty() ? null : found.get(0);
    }

    /** Open and verify the model in {@code dir}. */
    public static ModelFiles open(File dir) throws ManifestException {
        File manifestFile = findManifest(dir);
        if (manifestFile == null) {
            throw new ManifestException("no model found: " + dir + " has no *" + MANIFEST_SUFFIX);
        }
        return openManifest(manifestFile);
    }

    /** Read, parse and check one manifest, then verify its artifact. */
    public static ModelFiles openManifest(File manifestFile) throws ManifestException {
        Manifest manifest = ManifestParser.parse(readUtf8(manifestFile));
        File artifact = new File(manifestFile.getParentFile(), manifest.file.name);
        if (!artifact.isFile()) {
            throw new ManifestException(
                    "model file " + manifest.file.name + " named by the manifest is missing");
        }
        if (artifact.length() != manifest.file.sizeBytes) {
            throw new ManifestException("model file " + manifest.file.name + " is "
                    + artifact.length() + " bytes but its manifest says " + manifest.file.sizeBytes
                    + " (truncated or replaced?)");
        }
        String actual = sha256(artifact);
        if (!actual.equalsIgnoreCase(manifest.file.sha256)) {
            throw new ManifestException("model file " + manifest.file.name + " is corrupt: sha256 "
                    + actual.substring(0, 12) + "... does not match its manifest ("
                    + prefix(manifest.file.sha256) + "...)");
        }
        return new ModelFiles(manifestFile, artifact, manifest);
    }

    /** A file's text as strict UTF-8, like Python's read_text() on this platform. */
    public static String readUtf8(File file) throws ManifestException {
        byte[] bytes;
        try {
            bytes = readAll(new FileInputStream(file), MAX_MANIFEST_BYTES);
        } catch (FileNotFoundException e) {
            throw new ManifestException(file.getName() + ": manifest not found");
        } catch (IOException e) {
            throw new ManifestException(file.getName() + ": cannot read (" + e.getMessage() + ")");
        }
        if (bytes == null) {
            throw new ManifestException(file.getName() + ": over " + MAX_MANIFEST_BYTES
                    + " bytes, not a manifest the exporter writes");
        }
        try {
            return Charset.forName("UTF-8").newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new ManifestException(file.getName() + ": manifest is not valid UTF-8 text");
        }
    }

    /** Lower-case hex sha256 of a file, as melanoma.manifest.sha256_of writes it. */
    public static String sha256(File file) throws ManifestException {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            InputStream in = new FileInputStream(file);
            try {
                byte[] buffer = new byte[1 << 16];
                for (int n; (n = in.read(buffer)) > 0; ) {
                    digest.update(buffer, 0, n);
                }
            } finally {
                in.close();
            }
            StringBuilder hex = new StringBuilder();
            for (byte b : digest.digest()) {
                hex.append(String.format(Locale.ROOT, "%02x", b & 0xff));
            }
            return hex.toString();
        } catch (IOException e) {
            throw new ManifestException("cannot read " + file.getName() + " (" + e.getMessage()
                    + ")");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always available", e);
        }
    }

    /** All of {@code in}, or null once it passes {@code limit} bytes (read no further). */
    private static byte[] readAll(InputStream in, int limit) throws IOException {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buffer = new byte[1 << 14];
            for (int n; (n = in.read(buffer)) > 0; ) {
                out.write(buffer, 0, n);
                if (out.size() > limit) {
                    return null;
                }
            }
            return out.toByteArray();
        } finally {
            in.close();
        }
    }

    private static String prefix(String sha) {
        return sha.length() > 12 ? sha.substring(0, 12) : sha;
    }
}
