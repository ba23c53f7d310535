package org.melanoma.demo;

import java.io.File;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.melanoma.demo.core.EmbeddedFacts;
import org.melanoma.demo.core.Manifest;
import org.melanoma.demo.core.ManifestException;
import org.melanoma.demo.core.Preprocessor;
import org.pytorch.executorch.EValue;
import org.pytorch.executorch.Module;
import org.pytorch.executorch.Tensor;

/**
 * The exported int8 model, run with the ExecuTorch Java API (org.pytorch:executorch-android):
 * {@code Module.load}, {@code Tensor.fromBlob}, {@code EValue.from}, {@code Module.forward}, and
 * {@code Module.getMethods} / {@code Module.execute(name)} / {@code EValue.toStr} for the facts
 * the file embeds as constant methods.
 *
 * <p>Not thread-safe (neither is Module): only {@link ModelHolder}'s one worker thread calls it.
 */
final class ExecuTorchClassifier {
    private final Module module;
    private final long[] shape;
    private final Map<String, String> embedded;
    private String factsLine = "";
    private long lastNanos;

    private ExecuTorchClassifier(Module module, int size, Map<String, String> embedded) {
        this.module = module;
        this.shape = new long[] {1, 3, size, size}; // NCHW, one image
        this.embedded = Collections.unmodifiableMap(embedded);
    }

    /**
     * Load the .pte its manifest names, as {@link #load(File, int)}, and check the facts it
     * embeds against that manifest: a pair that disagrees is refused like a file ExecuTorch
     * cannot load, so a model that loaded before is put back.
     */
    static ExecuTorchClassifier load(File pte, Manifest manifest) throws ModelLoadException {
        ExecuTorchClassifier classifier = load(pte, Preprocessor.fromManifest(manifest).size());
        try {
            classifier.factsLine = EmbeddedFacts.check(manifest, classifier.embedded);
        } catch (ManifestException e) {
            classifier.close();
            throw new ModelLoadException(e.getMessage(), e);
        }
        return classifier;
    }

    /**
     * Load the .pte and run it once on a blank input, so a corrupt or wrong file fails here with
     * a clear message instead of on the user's first photo (and the first timing is warm).
     */
    static ExecuTorchClassifier load(File pte, int size) throws ModelLoadException {
        Module module;
        try {
            module = Module.load(pte.getAbsolutePath());
        } catch (LinkageError e) {
            // UnsatisfiedLinkError the first time, NoClassDefFoundError on any later try in the
            // same process: the native library, not the model file, is what failed.
            throw new ModelLoadException("the ExecuTorch runtime library could not be loaded on"
                    + " this device (the app ships arm64-v8a and x86_64 only): " + e, e, false);
        } catch (RuntimeException | OutOfMemoryError e) {
            throw new ModelLoadException("ExecuTorch could not load " + pte.getName() + ": "
                    + reason(e) + " (is it a .pte from a compatible executorch export?)", e);
        }
        // Loaded here, not lazily by the first forward, so a bad program (missing method,
        // unknown operator or backend) is named as such rather than as "does not run on this
        // input". Since executorch-android 1.5 loadMethod throws (an unchecked
        // ExecutorchRuntimeException) instead of returning an error code; uncaught, it would
        // end the worker thread and the app before ModelHolder could roll back.
        try {
            module.loadMethod("forward");
        } catch (RuntimeException | OutOfMemoryError e) {
            module.destroy();
            throw new ModelLoadException("ExecuTorch could not load the forward method of "
                    + pte.getName() + ": " + reason(e)
                    + " (is it a .pte from a compatible executorch export?)", e);
        }
        Map<String, String> embedded;
        try {
            embedded = readFacts(module);
        } catch (RuntimeException | OutOfMemoryError e) {
            module.destroy();
            throw new ModelLoadException("ExecuTorch could not read the terms embedded in "
                    + pte.getName() + ": " + reason(e), e);
        }
        ExecuTorchClassifier classifier = new ExecuTorchClassifier(module, size, embedded);
        try {
            classifier.logit(new float[3 * size * size]);
        } catch (RuntimeException | OutOfMemoryError e) {
            classifier.close();
            throw new ModelLoadException(
                    "the model loaded but does not run on a 1x3x" + size + "x" + size + " input: "
                            + reason(e), e);
        }
        return classifier;
    }

    /**
     * The {@link EmbeddedFacts#KEYS} the file has as methods, each run (no inputs) for its one
     * string; none in a file exported before 2026-12-07. A method of that name that returns
     * anything else is not the exporter's: IllegalStateException, so the file is refused.
     */
    private static Map<String, String> readFacts(Module module) {
        Set<String> methods = new HashSet<String>(Arrays.asList(module.getMethods()));
        Map<String, String> facts = new LinkedHashMap<String, String>();
        for (String key : EmbeddedFacts.KEYS) {
            if (!methods.contains(key)) {
                continue;
            }
            EValue[] outputs = module.execute(key);
            if (outputs.length != 1 || !outputs[0].isString()) {
                throw new IllegalStateException("its method " + key
                        + " does not return one string");
            }
            facts.put(key, outputs[0].toStr());
        }
        return facts;
    }

    /**
     * Why a call failed. The JNI layer (fbjni) turns a native std::bad_alloc into an
     * OutOfMemoryError whose message is only "std::bad_alloc"; uncaught, it would end the worker
     * thread, and the app, on every start, with the previous model never restored.
     */
    private static String reason(Throwable e) {
        return e instanceof OutOfMemoryError ? "not enough memory (" + e.getMessage() + ")"
                : e.getMessage();
    }

    /** Run forward on one NCHW float32 input; returns the logit. Time: {@link #lastNanos()}. */
    float logit(float[] input) {
        Tensor tensor = Tensor.fromBlob(input, shape);
        long start = System.nanoTime();
        EValue[] outputs = module.forward(EValue.from(tensor));
        lastNanos = System.nanoTime() - start;
        if (outputs.length < 1) {
            throw new IllegalStateException("the model returned no output");
        }
        // toTensor() throws IllegalStateException if the output is not a tensor.
        float[] values = outputs[0].toTensor().getDataAsFloatArray();
        if (values.length != 1) {
            throw new IllegalStateException(
                    "the model returned " + values.length + " values, expected one logit");
        }
        return values[0];
    }

    /** The facts the file embeds, read at load: key to string; empty if it has none. */
    Map<String, String> embeddedFacts() {
        return embedded;
    }

    /** For the screen: whether the file states its manifest's terms, or has none to state. */
    String factsLine() {
        return factsLine;
    }

    /** Wall time of the last forward call, in nanoseconds. */
    long lastNanos() {
        return lastNanos;
    }

    void close() {
        module.destroy();
    }
}
