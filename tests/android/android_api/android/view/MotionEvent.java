package android.view;

/** Stand-in for android.view.MotionEvent (API 35), its constants with their real values. */
public final class MotionEvent {
    public static final int INVALID_POINTER_ID = -1;
    public static final int ACTION_DOWN = 0;
    public static final int ACTION_UP = 1;
    public static final int ACTION_MOVE = 2;
    public static final int ACTION_CANCEL = 3;
    public static final int ACTION_POINTER_UP = 6;

    private MotionEvent() {}

    public final int getActionMasked() {
        throw new UnsupportedOperationException("stand-in");
    }

    public final int getActionIndex() {
        throw new UnsupportedOperationException("stand-in");
    }

    public final int findPointerIndex(int pointerId) {
        throw new UnsupportedOperationException("stand-in");
    }

    public final int getPointerId(int pointerIndex) {
        throw new UnsupportedOperationException("stand-in");
    }

    public final float getX(int pointerIndex) {
        throw new UnsupportedOperationException("stand-in");
    }

    public final float getY(int pointerIndex) {
        throw new UnsupportedOperationException("stand-in");
    }
}
