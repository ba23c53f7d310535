package androidx.activity.result;

import androidx.activity.result.contract.ActivityResultContracts.PickVisualMedia.VisualMediaType;

/** Stand-in for androidx.activity.result.PickVisualMediaRequest (activity 1.9.3). */
public final class PickVisualMediaRequest {
    PickVisualMediaRequest() {}

    /** Stand-in for PickVisualMediaRequest.Builder. */
    public static final class Builder {
        public Builder setMediaType(VisualMediaType mediaType) {
            return this;
        }

        public PickVisualMediaRequest build() {
            return new PickVisualMediaRequest();
        }
    }
}
