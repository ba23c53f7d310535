package org.melanoma.demo;

import java.io.File;
import org.pytorch.executorch.Module;

/** Drives ExecuTorchClassifier.load through each way the runtime can refuse a model. */
public final class ClassifierCheck {
    private ClassifierCheck() {}

    public static void main(String[] args) throws Exception {
        File pte = new File("model_int8.pte");
        String[] cases = {
            "none", "load", "loadMethod", "forward", "two", "oom-load", "oom-forward",
            "facts", "execute", "oom-execute", "tensor-fact"
        };
        for (String failAt : cases) {
            // oom-: the call throws what fbjni makes of a native std::bad_alloc
            boolean oom = failAt.startsWith("oom-");
            Module.failAt = oom ? failAt.substring(4) : failAt;
            Module.failWith = oom ? new OutOfMemoryError("std::bad_alloc") : null;
            Module.output = "two".equals(failAt) ? new float[] {1f, 2f} : new float[] {0.25f};
            Module.constants.clear();
            if (failAt.contains("execute") || failAt.contains("fact")) {
                // the constant methods an export of 2026-12-07 has, and one the app does not read
                Module.constants.put("model_name", "cnn");
                Module.constants.put("license", "CC-BY-NC-4.0");
                Module.constants.put("source_checkpoint_sha256", "3f3f");
                Module.constants.put("precision", "tensor-fact".equals(failAt)
                        ? new float[] {8f} : "int8");
            }
            Module.last = null;
            try {
                ExecuTorchClassifier classifier = ExecuTorchClassifier.load(pte, 32);
                float logit = classifier.logit(new float[3 * 32 * 32]);
                System.out.println(failAt + "\tloaded\t" + logit + "\t"
                        + java.util.Arrays.toString(Module.lastShape) + "\t"
                        + classifier.embeddedFacts());
            } catch (ModelLoadException e) {
                boolean freed = Module.last == null || Module.last.destroyed;
                System.out.println(failAt + "\trefused\t" + e.modelAtFault + "\t" + freed + "\t"
                        + e.getMessage());
            } catch (Error e) { // on the phone: the worker thread ends, and the app with it
                System.out.println(failAt + "\tescaped\t" + e);
            }
        }
    }
}
