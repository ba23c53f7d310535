package android.view;

import android.content.Context;

/** Stand-in for android.view.ScaleGestureDetector (API 35). */
public class ScaleGestureDetector {
    /** Stand-in for ScaleGestureDetector.OnScaleGestureListener. */
    public interface OnScaleGestureListener {
        boolean onScale(ScaleGestureDetector detector);

        boolean onScaleBegin(ScaleGestureDetector detector);

        void onScaleEnd(ScaleGestureDetector detector);
    }

    /** Stand-in for ScaleGestureDetector.SimpleOnScaleGestureListener. */
    public static class SimpleOnScaleGestureListener implements OnScaleGestureListener {
        @Override
        public boolean onScale(ScaleGestureDetector detector) {
            return false;
        }

        @Override
        public boolean onScaleBegin(ScaleGestureDetector detector) {
            return true;
        }

        @Override
        public void onScaleEnd(ScaleGestureDetector detector) {}
    }

    public ScaleGestureDetector(Context context, OnScaleGestureListener listener) {}

    public boolean onTouchEvent(MotionEvent event) {
        throw new UnsupportedOperationException("stand-in");
    }

    public boolean isInProgress() {
        throw new UnsupportedOperationException("stand-in");
    }

    public float getScaleFactor() {
        throw new UnsupportedOperationException("stand-in");
    }
}
