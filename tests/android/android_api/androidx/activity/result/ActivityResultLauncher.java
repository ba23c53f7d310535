package androidx.activity.result;

/** Stand-in for androidx.activity.result.ActivityResultLauncher (activity 1.9.3). */
public abstract class ActivityResultLauncher<I> {
    public void launch(I input) {
        throw new UnsupportedOperationException("stand-in");
    }
}
