package org.melanoma.demo;

import java.io.File;
import org.pytorch.executorch.Module;

/** Drives ExecuTorchClassifier.load through each way the runtime can refuse a model. */
public final class ClassifierCheck {
    private ClassifierCheck() {}

    public static void main(String[] args) throws Exception {
        File pte = new File("model_int8.pte");
        for (String failAt : new String[] {"none", "load", "loadMethod", "forward", "two"}) {
            Module.failAt = failAt;
            Module.output = "two".equals(failAt) ? new float[] {1f, 2f} : new float[] {0.25f};
            Module.last = null;
            try {
                ExecuTorchClassifier classifier = ExecuTorchClassifier.load(pte, 32);
                float logit = classifier.logit(new float[3 * 32 * 32]);
                System.out.println(failAt + "\tloaded\t" + logit + "\t"
                        + java.util.Arrays.toString(Module.lastShape));
            } catch (ModelLoadException e) {
                boolean freed = Module.last == null || Module.last.destroyed;
                System.out.println(failAt + "\trefused\t" + e.modelAtFault + "\t" + freed + "\t"
                        + e.getMessage());
            }
        }
    }
}
