package androidx.activity.result.contract;

import android.net.Uri;
import androidx.activity.result.PickVisualMediaRequest;

/**
 * Stand-in for androidx.activity.result.contract.ActivityResultContracts (activity 1.9.3,
 * ActivityResultContracts.kt), with the Java view of its Kotlin: an {@code object} is a class
 * with a static INSTANCE, a sealed interface a plain one.
 */
public final class ActivityResultContracts {
    private ActivityResultContracts() {}

    /** The photo picker: a PickVisualMediaRequest in, the picked Uri (or null) out. */
    public static class PickVisualMedia
            extends ActivityResultContract<PickVisualMediaRequest, Uri> {
        /** Stand-in for PickVisualMedia.VisualMediaType. */
        public interface VisualMediaType {}

        /** Stand-in for PickVisualMedia.ImageOnly. */
        public static final class ImageOnly implements VisualMediaType {
            public static final ImageOnly INSTANCE = new ImageOnly();

            private ImageOnly() {}
        }

        public PickVisualMedia() {}
    }

    /** The camera app: the Uri to write to in, whether it saved a photo out. */
    public static class TakePicture extends ActivityResultContract<Uri, Boolean> {
        public TakePicture() {}
    }
}
